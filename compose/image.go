package compose

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/tinyboot/tinyboot/compose/esp"
	"github.com/tinyboot/tinyboot/compose/iso"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/compose/uki"
	"github.com/tinyboot/tinyboot/internal/fsutil"
)

// bootImage is the UKI and the ESP that holds it. A cached ESP comes
// without the UKI's bytes.
type bootImage struct {
	uki             []byte
	esp             []byte
	ukiSize, kernel int64
	cacheKey        string
}

// bootCacheVersion changes whenever the UKI or ESP layout does.
const bootCacheVersion = "1"

// bootMeta is stored beside a cached ESP for the size report.
type bootMeta struct {
	UKISize    int64 `json:"uki_size"`
	KernelSize int64 `json:"kernel_size"`
}

func (b *builder) bootCachePath(key string) string {
	return filepath.Join(b.opts.CacheDir, "esp", key)
}

func (b *builder) uki(k *kernel.Kernel, initrd []byte) (*bootImage, error) {
	s := b.spec
	stubPath, err := b.stubPath()
	if err != nil {
		return nil, err
	}
	// Errors name the spec field when the user chose the stub, and the
	// package that provides it when we did.
	field := "kernel.stub " + s.Kernel.Stub
	fix := "point kernel.stub at a systemd UEFI stub (linuxx64.efi.stub from systemd-boot-efi)"
	if s.Kernel.Stub == "" {
		field = "UEFI stub " + stubPath + " (from the archive's " + kernel.StubPackage + "; kernel.stub is not set)"
		fix = "run tbcompose build --update, or set kernel.stub"
	}
	stub, err := os.ReadFile(stubPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; %s", field, err, fix)
	}
	osrel := fmt.Sprintf("NAME=tinyboot\nID=tinyboot\nPRETTY_NAME=\"tinyboot %s\"\nIMAGE_ID=%s\nVERSION_ID=%s\n", s.Name, s.Name, k.Version)
	cmdline := Cmdline(s.Kernel.Cmdline)

	// The key covers every input: the stub's bytes, the kernel (by its
	// content-addressed tree, else its bytes), the sections and the time.
	h := sha256.New()
	fmt.Fprintf(h, "boot %s\x00%d\x00%s\x00%s\x00%s\x00", bootCacheVersion, b.opts.Epoch.Unix(), osrel, cmdline, k.Version)
	h.Write(sha256Bytes(stub))
	h.Write(sha256Bytes(initrd))
	if k.TreeID != "" {
		fmt.Fprintf(h, "tree %s %s\x00", k.TreeID, filepath.Base(k.Vmlinuz))
	} else {
		sum, err := fsutil.SHA256File(k.Vmlinuz)
		if err != nil {
			return nil, fmt.Errorf("kernel image %s: %w", k.Vmlinuz, err)
		}
		fmt.Fprintf(h, "file %s\x00", sum)
	}
	key := hex.EncodeToString(h.Sum(nil)[:16])
	if esp, err := os.ReadFile(b.bootCachePath(key) + ".img"); err == nil {
		var meta bootMeta
		if mb, err := os.ReadFile(b.bootCachePath(key) + ".json"); err == nil && json.Unmarshal(mb, &meta) == nil && meta.UKISize > 0 {
			b.addPart("kernel", meta.KernelSize)
			b.addPart("uki stub", meta.UKISize-meta.KernelSize-int64(len(initrd)))
			return &bootImage{esp: esp, ukiSize: meta.UKISize, kernel: meta.KernelSize}, nil
		}
	}

	vmlinuz, err := os.ReadFile(k.Vmlinuz)
	if err != nil {
		return nil, fmt.Errorf("kernel image %s: %w", k.Vmlinuz, err)
	}
	var out bytes.Buffer
	_, err = uki.Build(&out, stub, []uki.Section{
		uki.Bytes(".osrel", []byte(osrel)),
		uki.Bytes(".cmdline", append([]byte(cmdline), 0)),
		uki.Bytes(".uname", []byte(k.Version)),
		uki.Bytes(".linux", vmlinuz),
		uki.Bytes(".initrd", initrd),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w; %s", field, err, fix)
	}
	b.addPart("kernel", int64(len(vmlinuz)))
	b.addPart("uki stub", int64(out.Len()-len(vmlinuz)-len(initrd)))
	return &bootImage{uki: out.Bytes(), ukiSize: int64(out.Len()), kernel: int64(len(vmlinuz)), cacheKey: key}, nil
}

// esp puts the UKI into a FAT image, unless the UKI stage found one in
// the cache; a fresh one is cached for the next build.
func (b *builder) esp(boot *bootImage) error {
	if boot.esp != nil {
		return nil
	}
	var out bytes.Buffer
	if _, err := esp.Build(&out, []esp.File{{Path: "EFI/BOOT/BOOTX64.EFI", Data: bytes.NewReader(boot.uki), Size: boot.ukiSize}}, b.opts.Epoch); err != nil {
		return fmt.Errorf("ESP: %w", err)
	}
	boot.esp = out.Bytes()
	if boot.cacheKey != "" {
		// Only speed is lost if caching fails; the metadata goes last so a
		// half-written pair is never used.
		p := b.bootCachePath(boot.cacheKey)
		if fsutil.WriteFileAtomic(p+".img", boot.esp) == nil {
			if mb, err := json.Marshal(bootMeta{UKISize: boot.ukiSize, KernelSize: boot.kernel}); err == nil {
				_ = fsutil.WriteFileAtomic(p+".json", mb)
			}
		}
	}
	return nil
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
	for i, e := range s.Files {
		src := s.Resolve(e.Src)
		n, err := treeSize(src)
		if err != nil {
			return fmt.Errorf("files[%d].src %s: %w", i, e.Src, err)
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
		return outputError(out, fmt.Errorf("ISO: %w", err))
	}
	fi, err := os.Stat(f.Name())
	if err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	b.res.Size = fi.Size()
	b.addPart("payload", payload)
	b.addPart("esp+iso overhead", fi.Size()-payload-ukiSize)
	if b.res.SHA256, err = fsutil.SHA256File(f.Name()); err != nil {
		return fmt.Errorf("read back %s: %w", out, err)
	}
	if err := commit(f, out); err != nil {
		return outputError(out, err)
	}
	done = true
	return nil
}

// outputError adds what to do to a failure to write the image when the
// cause is one the user can fix: a full disk or quota.
func outputError(out string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("write %s: %w; free some space in %s (the image and its scratch files live there while building), or %s", out, err, filepath.Dir(out), outputFix)
	}
	return err
}

// treeSize adds up the regular files below root without following links,
// and refuses what an ISO cannot hold (pipes, sockets, devices) before any
// of the image is written, so the error can name the spec entry.
func treeSize(root string) (int64, error) {
	var n int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s vanished while the image was being built: %w; make sure nothing removes it during the build", p, err)
			}
			return fmt.Errorf("%w; make it readable", err)
		}
		switch t := d.Type(); {
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		case t.IsDir(), t&fs.ModeSymlink != 0:
		default:
			what := "special file"
			switch {
			case t&fs.ModeNamedPipe != 0:
				what = "named pipe"
			case t&fs.ModeSocket != 0:
				what = "socket"
			case t&fs.ModeDevice != 0:
				what = "device"
			}
			return fmt.Errorf("%s is a %s; files entries can hold only regular files, directories and symlinks: remove it or copy its contents into a regular file", p, what)
		}
		return nil
	})
	return n, err
}
