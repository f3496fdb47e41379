package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tinyboot/tinyboot/compose/esp"
	"github.com/tinyboot/tinyboot/internal/qemu"
)

// targetKind is what `tbcompose run` was given: a spec to build, or one of
// the formats `tbcompose build --format` writes.
type targetKind string

// Run targets.
const (
	targetSpec   targetKind = "spec"   // tinyboot.yaml: built first, then booted as an ISO
	targetISO    targetKind = "iso"    // <name>.iso, a hybrid ISO
	targetRaw    targetKind = "raw"    // <name>.img, a GPT disk image
	targetUKI    targetKind = "uki"    // <name>.efi, a unified kernel image
	targetKernel targetKind = "kernel" // <name>-kernel/: vmlinuz, initrd.img, cmdline
	targetGCE    targetKind = "gce"    // <name>.tar.gz holding disk.raw
)

// Files of the kernel format's directory.
const (
	kernelFile  = "vmlinuz"
	initrdFile  = "initrd.img"
	cmdlineFile = "cmdline"
)

// gceDiskName is the one file a GCE image archive holds.
const gceDiskName = "disk.raw"

// detectTarget says what path is, by its name and, when the name says
// nothing, by its first bytes: a directory is the kernel format; .iso,
// .img/.raw, .efi and .tar.gz/.tgz are named by their format; otherwise
// an ISO 9660 volume descriptor, a PE "MZ" header or a gzip header tell,
// and anything else is a spec.
func detectTarget(path string) (targetKind, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("run: %w", err)
	}
	if fi.IsDir() {
		for _, n := range []string{kernelFile, initrdFile, cmdlineFile} {
			if !isRegular(filepath.Join(path, n)) {
				return "", fmt.Errorf("run %s: a directory to run is the kernel format (vmlinuz, initrd.img and cmdline; see tbcompose build --format kernel), and it has no %s", path, n)
			}
		}
		return targetKernel, nil
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("run: %s is not a regular file", path)
	}
	lower := strings.ToLower(path)
	switch {
	case strings.HasSuffix(lower, ".iso"):
		return targetISO, nil
	case strings.HasSuffix(lower, ".img"), strings.HasSuffix(lower, ".raw"):
		return targetRaw, nil
	case strings.HasSuffix(lower, ".efi"):
		return targetUKI, nil
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		return targetGCE, nil
	case strings.HasSuffix(lower, ".yaml"), strings.HasSuffix(lower, ".yml"):
		return targetSpec, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("run: %w", err)
	}
	defer f.Close()
	head := make([]byte, 32774)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("run: %w", err)
	}
	head = head[:n]
	switch {
	case len(head) >= 32774 && string(head[32769:32774]) == "CD001":
		return targetISO, nil
	case bytes.HasPrefix(head, []byte("MZ")):
		return targetUKI, nil
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return targetGCE, nil
	}
	return targetSpec, nil
}

func isRegular(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// readKernelDir fills in cfg's direct kernel boot from a kernel format
// directory.
func readKernelDir(cfg *qemu.Config, dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, cmdlineFile))
	if err != nil {
		return fmt.Errorf("run: kernel format: %w", err)
	}
	line := strings.TrimSuffix(string(b), "\n")
	if strings.ContainsAny(line, "\n\x00") {
		return fmt.Errorf("run: %s: the kernel command line must be one line", filepath.Join(dir, cmdlineFile))
	}
	cfg.Kernel = filepath.Join(dir, kernelFile)
	cfg.Initrd = filepath.Join(dir, initrdFile)
	cfg.Append = line
	return nil
}

// ukiESP writes a FAT ESP holding the UKI at path as the removable-media
// boot path EFI/BOOT/BOOTX64.EFI into dir, so OVMF finds and starts it
// from a plain virtio disk, and returns the ESP's path.
func ukiESP(path, dir string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("run: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("run: %w", err)
	}
	magic := make([]byte, 2)
	if _, err := f.ReadAt(magic, 0); err != nil || string(magic) != "MZ" {
		return "", fmt.Errorf("run: %s is not a PE/EFI executable (no MZ header); a UKI is what tbcompose build --format uki writes", path)
	}
	out := filepath.Join(dir, "esp.img")
	w, err := os.Create(out)
	if err != nil {
		return "", fmt.Errorf("run: %w", err)
	}
	files := []esp.File{{Path: "EFI/BOOT/BOOTX64.EFI", Data: f, Size: fi.Size()}}
	if _, err := esp.Build(w, files, time.Unix(0, 0)); err != nil {
		w.Close()
		return "", fmt.Errorf("run: make an ESP for %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("run: %w", err)
	}
	return out, nil
}

// extractGCE extracts disk.raw from a GCE image archive into dir, keeping
// it sparse (runs of zeros become holes), and returns its path.
func extractGCE(path, dir string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("run: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", fmt.Errorf("run %s: not a gzip archive (a GCE image is a .tar.gz holding %s): %w", path, gceDiskName, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("run %s: no %s in the archive (a GCE image holds exactly that file)", path, gceDiskName)
		}
		if err != nil {
			return "", fmt.Errorf("run %s: read archive: %w", path, err)
		}
		if h.Name != gceDiskName || h.Typeflag != tar.TypeReg {
			continue
		}
		out := filepath.Join(dir, gceDiskName)
		if err := writeSparse(out, tr, h.Size); err != nil {
			return "", fmt.Errorf("run %s: extract %s: %w", path, gceDiskName, err)
		}
		return out, nil
	}
}

// writeSparse copies size bytes of r to a new file at path, seeking over
// all-zero blocks instead of writing them.
func writeSparse(path string, r io.Reader, size int64) error {
	w, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	var off int64
	for off < size {
		n, err := io.ReadFull(r, buf[:min(int64(len(buf)), size-off)])
		if n > 0 {
			if isZero(buf[:n]) {
				if _, err := w.Seek(int64(n), io.SeekCurrent); err != nil {
					w.Close()
					return err
				}
			} else if _, err := w.Write(buf[:n]); err != nil {
				w.Close()
				return err
			}
			off += int64(n)
		}
		if err != nil {
			w.Close()
			return fmt.Errorf("after %d of %d bytes: %w", off, size, err)
		}
	}
	if err := w.Truncate(size); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
