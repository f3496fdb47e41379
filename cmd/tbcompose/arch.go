package main

import (
	"fmt"
	"slices"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/internal/arch"
	"github.com/tinyboot/tinyboot/internal/qemu"
	"github.com/tinyboot/tinyboot/spec"
)

// overrideArch makes s build for the architectures --arch names instead of
// its own arch.
func overrideArch(s *spec.Spec, names []string) error {
	for i, n := range names {
		if _, err := arch.Lookup(n); err != nil {
			return fmt.Errorf("--arch: %w", err)
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("--arch: %s is named twice", n)
		}
	}
	s.Arch = spec.Arches(slices.Clone(names))
	return nil
}

// findFirmwareFor finds the UEFI firmware of cfg's architecture: OVMF for
// a PC, AAVMF for arm64.
func findFirmwareFor(cfg qemu.Config, override string) (qemu.Firmware, error) {
	if cfg.IsArm64() {
		return qemu.FindFirmwareArm64(override)
	}
	return qemu.FindFirmware(override)
}

// runArch is the architecture of what run boots, so that an arm64 image
// gets the arm64 machine and firmware: read from the ESP of a disk image
// (image, the ISO or disk run attaches), else from what inspect reads of
// the UKI or kernel directory given.
func runArch(kind targetKind, target, image string) (string, error) {
	switch kind {
	case targetUKI, targetKernel:
		in, err := compose.Inspect(target)
		if err != nil {
			return "", err
		}
		return in.Arch, nil
	}
	return compose.ImageArch(image)
}
