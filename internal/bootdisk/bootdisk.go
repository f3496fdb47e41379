// Package bootdisk turns the formats that are not disks by themselves
// into disks a machine boots: a UKI into a throwaway ESP, a GCE image
// archive into its raw disk. tbcompose run and the end-to-end tests share
// it.
package bootdisk

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tinyboot/tinyboot/compose/esp"
)

// GCEDiskName is the one file a GCE image archive holds.
const GCEDiskName = "disk.raw"

// UKIDisk writes into dir a disk image that is a FAT ESP holding the UKI
// at path as the removable-media boot path EFI/BOOT/BOOTX64.EFI, so UEFI
// firmware finds and starts it from a plain disk, and returns its path.
func UKIDisk(path, dir string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("%w", err)
	}
	magic := make([]byte, 2)
	if _, err := f.ReadAt(magic, 0); err != nil || string(magic) != "MZ" {
		return "", fmt.Errorf("%s is not a PE/EFI executable (no MZ header); a UKI is what tbcompose build --format uki writes", path)
	}
	out := filepath.Join(dir, "esp.img")
	w, err := os.Create(out)
	if err != nil {
		return "", fmt.Errorf("%w", err)
	}
	files := []esp.File{{Path: "EFI/BOOT/BOOTX64.EFI", Data: f, Size: fi.Size()}}
	if _, err := esp.Build(w, files, time.Unix(0, 0)); err != nil {
		w.Close()
		return "", fmt.Errorf("make an ESP for %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("%w", err)
	}
	return out, nil
}

// ExtractGCE extracts disk.raw from a GCE image archive into dir, keeping
// it sparse (runs of zeros become holes), and returns its path.
func ExtractGCE(path, dir string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", fmt.Errorf("%s: not a gzip archive (a GCE image is a .tar.gz holding %s): %w", path, GCEDiskName, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("%s: no %s in the archive (a GCE image holds exactly that file)", path, GCEDiskName)
		}
		if err != nil {
			return "", fmt.Errorf("%s: read archive: %w", path, err)
		}
		if h.Name != GCEDiskName || h.Typeflag != tar.TypeReg {
			continue
		}
		out := filepath.Join(dir, GCEDiskName)
		if err := writeSparse(out, tr, h.Size); err != nil {
			return "", fmt.Errorf("%s: extract %s: %w", path, GCEDiskName, err)
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
