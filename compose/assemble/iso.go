package assemble

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tinyboot/tinyboot/compose/iso"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/compose/plan"
)

// isoWriter writes the hybrid ISO: the ESP as El Torito EFI boot image and
// GPT partition, ISOLINUX as El Torito BIOS boot image and MBR boot code
// (when the plan has a BIOS loader), and the payload as ISO9660 files.
// With diskSize set it writes the same image as a disk of that size.
type isoWriter struct {
	volumeID string
	payload  []plan.PayloadEntry
	epoch    time.Time
	bios     *kernel.BIOSLoader
	diskSize func(imageSize int64) int64
}

func newISOWriter(p *plan.Plan) Writer {
	return &isoWriter{volumeID: p.VolumeID, payload: p.Payload, epoch: p.Epoch, bios: p.BIOS}
}

// BIOS loader paths on the ISO. ISOLINUX looks for its configuration
// and ldlinux.c32 in the directory isolinux.bin is in.
const (
	isolinuxDir    = "/isolinux"
	isolinuxBin    = isolinuxDir + "/isolinux.bin"
	biosKernelPath = isolinuxDir + "/vmlinuz"
	biosInitrdPath = isolinuxDir + "/initrd.img"
)

// Write checks every payload tree before any of the image is written, so
// that an error can name the spec entry, then writes the ISO.
func (w *isoWriter) Write(ctx context.Context, parts *Parts, dst, work string) (int64, error) {
	var files []iso.Entry
	var payload int64
	for _, e := range w.payload {
		n, err := treeSize(e.Path)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", e.Origin, err)
		}
		payload += n
		files = append(files, iso.Entry{Src: e.Path, Dst: e.Dst})
	}
	if parts.App != "" {
		files = append(files, iso.Entry{Src: parts.App, Dst: parts.AppISOPath, Exec: true})
	}
	opts := iso.Options{
		VolumeID: w.volumeID,
		ESP:      parts.ESP,
		Files:    files,
		ModTime:  w.epoch,
		WorkDir:  work,
	}
	if w.bios != nil {
		if err := w.addBIOS(&opts, parts, work); err != nil {
			return 0, err
		}
	}
	if w.diskSize != nil {
		size, err := iso.Size(ctx, opts)
		if err != nil {
			return 0, fmt.Errorf("ISO: %w", err)
		}
		opts.DiskSize = w.diskSize(size)
	}
	if err := iso.Write(ctx, dst, opts); err != nil {
		return 0, fmt.Errorf("ISO: %w", err)
	}
	return payload, nil
}

// addBIOS adds ISOLINUX to the image: its files and configuration under
// /isolinux, and the kernel and initrd it loads as aliases of the UKI's
// sections inside the ESP, so their bytes are stored once.
func (w *isoWriter) addBIOS(opts *iso.Options, parts *Parts, work string) error {
	bf, err := parts.bootFiles()
	if err != nil {
		return fmt.Errorf("BIOS boot: %w", err)
	}
	// Only the configuration is made here; the loader's files go onto the
	// ISO straight from the cache.
	cfg := filepath.Join(work, "isolinux.cfg")
	if err := os.WriteFile(cfg, []byte(isolinuxConfig(bf.cmdline)), 0o644); err != nil {
		return err
	}
	mbr, err := os.ReadFile(w.bios.MBR)
	if err != nil {
		return fmt.Errorf("BIOS loader: %w", err)
	}
	opts.Files = append([]iso.Entry{
		{Src: w.bios.IsolinuxBin, Dst: isolinuxBin},
		{Src: w.bios.LdlinuxC32, Dst: isolinuxDir + "/ldlinux.c32"},
		{Src: cfg, Dst: isolinuxDir + "/isolinux.cfg"},
	}, opts.Files...)
	opts.Aliases = append(opts.Aliases,
		iso.Alias{Dst: biosKernelPath, Offset: bf.kernel.off, Size: bf.kernel.size},
		iso.Alias{Dst: biosInitrdPath, Offset: bf.initrd.off, Size: bf.initrd.size})
	opts.BIOS = &iso.BIOSBoot{BootFile: isolinuxBin, BootInfoTable: true, MBR: mbr}
	return nil
}

// isolinuxConfig boots the kernel at once with the UKI's command line.
func isolinuxConfig(cmdline string) string {
	return strings.Join([]string{
		"DEFAULT tinyboot",
		"PROMPT 0",
		"TIMEOUT 0",
		"LABEL tinyboot",
		"  KERNEL " + biosKernelPath,
		"  APPEND initrd=" + biosInitrdPath + " " + cmdline,
		"",
	}, "\n")
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
