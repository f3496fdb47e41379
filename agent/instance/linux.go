//go:build linux

package instance

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tinyboot/tinyboot/agent/blkid"
	"golang.org/x/sys/unix"
)

// fwCfgPath is where the qemu_fw_cfg module shows the entry.
const fwCfgPath = "/sys/firmware/qemu_fw_cfg/by_name/" + FwCfgName + "/raw"

// mountDir is where the NoCloud drive is mounted while it is read; it is
// on the initramfs (RAM), and unmounted and removed right after.
const mountDir = "/run/tinyboot-cidata"

// Load reads the NoCloud drive, if a block device carries one, and the
// fw_cfg entry, if the machine has it. Problems with one source are
// returned joined; what could be read is returned anyway.
func Load(ctx context.Context) (Data, error) {
	var d Data
	var errs []error
	if dev, fstype := findNoCloud(); dev != "" {
		if err := readNoCloud(dev, fstype, &d); err != nil {
			errs = append(errs, fmt.Errorf("nocloud %s: %w", dev, err))
		}
	}
	if b, err := os.ReadFile(fwCfgPath); err == nil {
		env, err := ParseEnv(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("fw_cfg %s: %w", FwCfgName, err))
		} else {
			d.Add("fw_cfg "+FwCfgName, env)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("fw_cfg %s: %w", FwCfgName, err))
	}
	return d, errors.Join(errs...)
}

// findNoCloud returns the first block device (by name) whose iso9660 or
// vfat volume is labelled cidata, and its filesystem type.
func findNoCloud() (dev, fstype string) {
	ents, err := os.ReadDir("/sys/class/block")
	if err != nil {
		return "", ""
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		info, err := blkid.ProbeFile("/dev/" + n)
		if err == nil && (info.Type == blkid.ISO9660 || info.Type == blkid.VFAT) && strings.EqualFold(info.Label, Label) {
			return "/dev/" + n, info.Type
		}
	}
	return "", ""
}

func readNoCloud(dev, fstype string, d *Data) (err error) {
	if err := os.MkdirAll(mountDir, 0o700); err != nil {
		return err
	}
	defer os.Remove(mountDir)
	data := ""
	if fstype == blkid.VFAT {
		// Named, not the kernel's defaults: the base modules ship exactly
		// these two character sets.
		data = "codepage=437,iocharset=ascii"
	}
	if err := unix.Mount(dev, mountDir, fstype, unix.MS_RDONLY|unix.MS_NOEXEC|unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	defer func() {
		if uerr := unix.Unmount(mountDir, 0); uerr != nil && err == nil {
			err = fmt.Errorf("unmount: %w", uerr)
		}
	}()
	if b, err := os.ReadFile(filepath.Join(mountDir, "meta-data")); err == nil {
		md, err := ParseMetaData(b)
		if err != nil {
			return err
		}
		d.InstanceID, d.Hostname = md.InstanceID, md.LocalHostname
	}
	b, err := os.ReadFile(filepath.Join(mountDir, "user-data"))
	if err != nil || !IsEnvUserData(b) {
		return nil // no user-data, or cloud-init's: not for tinyboot
	}
	env, err := ParseEnv(b)
	if err != nil {
		return fmt.Errorf("user-data: %w", err)
	}
	d.Add("nocloud "+dev, env)
	return nil
}
