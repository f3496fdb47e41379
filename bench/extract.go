package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/compose/initramfs"
	"github.com/tinyboot/tinyboot/compose/iso"
	"github.com/tinyboot/tinyboot/compose/uki"
)

// unpacked is a tbcompose image taken apart into the inputs of the shell
// pipeline, so that both pack exactly the same bytes.
type unpacked struct {
	Root                           string // the initramfs tree
	RawCPIO                        string // the segments' cpio archives back to back
	Vmlinuz, Osrel, Cmdline, Uname string // UKI sections, one file each
	ISOSize, ESPSize, UKISize      int64
	InitrdSize, InitrdRaw          int64
	Segments                       int
}

// unpackImage extracts the ESP from the ISO, the UKI from the ESP, the
// sections from the UKI, and unpacks each concatenated initramfs segment
// with cpio(1) into dir/root.
func unpackImage(ctx context.Context, isoPath, dir string) (*unpacked, error) {
	im, err := iso.Open(isoPath)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", isoPath, err)
	}
	defer im.Close()
	boot, err := compose.ReadBoot(im)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", isoPath, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	u := &unpacked{Root: filepath.Join(dir, "root"), ISOSize: im.Size(), ESPSize: int64(len(boot.ESP)), UKISize: int64(len(boot.UKI))}
	for _, s := range []struct {
		name string
		dst  *string
	}{{uki.SectionLinux, &u.Vmlinuz}, {uki.SectionOSRel, &u.Osrel}, {uki.SectionCmdline, &u.Cmdline}, {uki.SectionUname, &u.Uname}} {
		b, ok := boot.Sections[s.name]
		if !ok {
			return nil, fmt.Errorf("%s: UKI has no %s section", isoPath, s.name)
		}
		*s.dst = filepath.Join(dir, s.name[1:])
		if err := os.WriteFile(*s.dst, b, 0o644); err != nil {
			return nil, err
		}
	}
	initrd, ok := boot.Sections[uki.SectionInitrd]
	if !ok {
		return nil, fmt.Errorf("%s: UKI has no %s section", isoPath, uki.SectionInitrd)
	}
	u.InitrdSize = int64(len(initrd))
	// What the kernel sees: the segments' cpio archives back to back.
	raw, err := initramfs.Unpack(initrd)
	if err != nil {
		return nil, err
	}
	u.InitrdRaw = int64(len(raw))
	u.RawCPIO = filepath.Join(dir, "initrd.cpio")
	if err := os.WriteFile(u.RawCPIO, raw, 0o644); err != nil {
		return nil, err
	}
	// cpio(1) stops at the first trailer, so each archive is fed alone.
	archives, err := initramfs.Split(raw)
	if err != nil {
		return nil, err
	}
	u.Segments = len(archives)
	if err := os.RemoveAll(u.Root); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(u.Root, 0o755); err != nil {
		return nil, err
	}
	for i, a := range archives {
		cmd := exec.CommandContext(ctx, "cpio", "-idmu", "--quiet", "--no-absolute-filenames")
		cmd.Dir, cmd.Stdin = u.Root, bytes.NewReader(a)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("cpio -idm segment %d: %w: %s", i, err, out)
		}
	}
	return u, nil
}
