package compose

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tinyboot/tinyboot/compose/esp"
	"github.com/tinyboot/tinyboot/compose/iso"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/compose/uki"
)

// DefaultStub is systemd's UEFI stub as Debian and Ubuntu install it.
const DefaultStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

// stubPackages names, per distribution, what provides the stub, for the
// error a user sees when it is missing.
const stubPackages = "systemd-boot-efi on Debian/Ubuntu (apt-get install systemd-boot-efi), systemd-boot on Fedora/Arch"

func (b *builder) uki(k *kernel.Kernel, initrd []byte) ([]byte, error) {
	s := b.spec
	stubPath := DefaultStub
	if s.Kernel.Stub != "" {
		stubPath = s.Resolve(s.Kernel.Stub)
	}
	stub, err := os.ReadFile(stubPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && s.Kernel.Stub == "" {
			return nil, fmt.Errorf("UEFI stub %s not found: install %s, or set kernel.stub", stubPath, stubPackages)
		}
		return nil, fmt.Errorf("UEFI stub: %w", err)
	}
	vmlinuz, err := os.ReadFile(k.Vmlinuz)
	if err != nil {
		return nil, fmt.Errorf("kernel image: %w", err)
	}
	osrel := fmt.Sprintf("NAME=tinyboot\nID=tinyboot\nPRETTY_NAME=\"tinyboot %s\"\nIMAGE_ID=%s\nVERSION_ID=%s\n", s.Name, s.Name, k.Version)
	cmdline := Cmdline(s.Kernel.Cmdline)
	var out bytes.Buffer
	_, err = uki.Build(&out, stub, []uki.Section{
		uki.Bytes(".osrel", []byte(osrel)),
		uki.Bytes(".cmdline", append([]byte(cmdline), 0)),
		uki.Bytes(".uname", []byte(k.Version)),
		uki.Bytes(".linux", vmlinuz),
		uki.Bytes(".initrd", initrd),
	})
	if err != nil {
		return nil, fmt.Errorf("UKI from stub %s: %w", stubPath, err)
	}
	b.addPart("kernel", int64(len(vmlinuz)))
	b.addPart("uki stub", int64(out.Len()-len(vmlinuz)-len(initrd)))
	return out.Bytes(), nil
}

func (b *builder) esp(ukiImage []byte) ([]byte, error) {
	var out bytes.Buffer
	if _, err := esp.Build(&out, []esp.File{{Path: "EFI/BOOT/BOOTX64.EFI", Data: bytes.NewReader(ukiImage), Size: int64(len(ukiImage))}}, b.opts.Epoch); err != nil {
		return nil, fmt.Errorf("ESP: %w", err)
	}
	return out.Bytes(), nil
}

// iso writes the image into a temp file beside the output and renames it
// into place only when it is complete.
func (b *builder) iso(espImage []byte, ukiSize int64, work string) error {
	s := b.spec
	out := b.res.Output
	f, err := createTemp(out)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	var files []iso.Entry
	var payload int64
	for _, e := range s.Files {
		src := s.Resolve(e.Src)
		n, err := treeSize(src)
		if err != nil {
			return fmt.Errorf("files: %s: %w", e.Src, err)
		}
		payload += n
		files = append(files, iso.Entry{Src: src, Dst: e.Dst})
	}
	err = iso.Write(b.ctx, f.Name(), iso.Options{
		VolumeID: VolumeID(s.Name),
		ESP:      espImage,
		Files:    files,
		ModTime:  b.opts.Epoch,
		WorkDir:  work,
	})
	if err != nil {
		return fmt.Errorf("ISO: %w", err)
	}
	fi, err := os.Stat(f.Name())
	if err != nil {
		return err
	}
	b.res.Size = fi.Size()
	b.addPart("payload", payload)
	b.addPart("esp+iso overhead", fi.Size()-payload-ukiSize)
	if b.res.SHA256, err = sha256File(f.Name()); err != nil {
		return err
	}
	if err := commit(f, out); err != nil {
		return err
	}
	done = true
	return nil
}

// treeSize adds up the regular files below root without following links.
func treeSize(root string) (int64, error) {
	var n int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
