// Package bootdisk turns the formats that are not disks by themselves
// into disks a machine boots: a UKI into a throwaway ESP, a GCE image
// archive into its raw disk. tbcompose run and the end-to-end tests share
// it.
package bootdisk

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tinyboot/tinyboot/compose/esp"
	"github.com/tinyboot/tinyboot/compose/gce"
)

// GCEDiskName is the one file a GCE image archive holds.
const GCEDiskName = gce.DiskName

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
		return "", err
	}
	defer f.Close()
	out := filepath.Join(dir, GCEDiskName)
	w, err := os.Create(out)
	if err != nil {
		return "", err
	}
	if _, err := gce.Extract(f, w); err != nil {
		w.Close()
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return out, nil
}
