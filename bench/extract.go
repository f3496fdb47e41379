package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/cavaliergopher/cpio"
	"github.com/klauspost/compress/zstd"

	"github.com/tinyboot/tinyboot/compose/esp"
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
	espImg, err := im.ESP()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", isoPath, err)
	}
	fat, err := esp.Open(bytes.NewReader(espImg))
	if err != nil {
		return nil, fmt.Errorf("%s: ESP: %w", isoPath, err)
	}
	ukiImg, err := fat.ReadFile("EFI/BOOT/BOOTX64.EFI")
	if err != nil {
		return nil, fmt.Errorf("%s: ESP: %w", isoPath, err)
	}
	pe, err := uki.Read(bytes.NewReader(ukiImg))
	if err != nil {
		return nil, fmt.Errorf("%s: UKI: %w", isoPath, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	u := &unpacked{Root: filepath.Join(dir, "root"), ISOSize: im.Size(), ESPSize: int64(len(espImg)), UKISize: int64(len(ukiImg))}
	for _, s := range []struct {
		name string
		dst  *string
	}{{".linux", &u.Vmlinuz}, {".osrel", &u.Osrel}, {".cmdline", &u.Cmdline}, {".uname", &u.Uname}} {
		b, err := section(pe, s.name)
		if err != nil {
			return nil, err
		}
		*s.dst = filepath.Join(dir, s.name[1:])
		if err := os.WriteFile(*s.dst, b, 0o644); err != nil {
			return nil, err
		}
	}
	initrd, err := section(pe, ".initrd")
	if err != nil {
		return nil, err
	}
	u.InitrdSize = int64(len(initrd))
	// The decoder reads concatenated frames as one stream, which is what
	// the kernel sees too: the segments' cpio archives back to back.
	zr, err := zstd.NewReader(bytes.NewReader(initrd))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("decompress initramfs: %w", err)
	}
	u.InitrdRaw = int64(len(raw))
	u.RawCPIO = filepath.Join(dir, "initrd.cpio")
	if err := os.WriteFile(u.RawCPIO, raw, 0o644); err != nil {
		return nil, err
	}
	archives, err := splitArchives(raw)
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

func section(img *uki.Image, name string) ([]byte, error) {
	s, ok := img.Section(name)
	if !ok {
		return nil, fmt.Errorf("UKI has no %s section", name)
	}
	b, err := s.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("UKI %s: %w", name, err)
	}
	return b, nil
}

// splitArchives cuts a stream of concatenated newc archives (with the zero
// padding the kernel allows between them) into one slice per archive, each
// ending with its trailer, because cpio(1) stops at the first trailer.
func splitArchives(raw []byte) ([][]byte, error) {
	var out [][]byte
	off := 0
	for {
		for off < len(raw) && raw[off] == 0 {
			off++
		}
		if off == len(raw) {
			return out, nil
		}
		r := bytes.NewReader(raw[off:])
		cr := cpio.NewReader(r)
		for {
			_, err := cr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("cpio archive at byte %d: %w", off, err)
			}
		}
		// The reader stops right after the trailer's name; its padding to
		// four bytes belongs to the archive.
		end := min(off+(len(raw)-r.Len()-off+3)/4*4, len(raw))
		if end == off {
			return nil, fmt.Errorf("cpio archive at byte %d: no progress", off)
		}
		out = append(out, raw[off:end])
		off = end
	}
}
