package qemu

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/tinyboot/tinyboot/internal/arch"
)

// MachineVirt is QEMU's arm64 virt machine: PCIe, virtio, a PL011 serial
// port, a PL031 RTC and ACPI with a generic event device for the power
// button, booted by the arm64 UEFI firmware (AAVMF) or directly.
const MachineVirt Machine = "virt"

// ErrNoAAVMF is returned (wrapped) when no arm64 UEFI firmware is found.
var ErrNoAAVMF = errors.New("no AAVMF (arm64 UEFI) firmware found")

// arm64Binary is the emulator of arm64 images.
var arm64Binary = arch.MustLookup("arm64").QEMU

// IsArm64 reports whether c boots an arm64 guest: Arch arm64, or the virt
// machine.
func (c Config) IsArm64() bool { return c.Arch == "arm64" || c.Machine == MachineVirt }

// archDefaults fills in what an arm64 guest changes: the virt machine and
// qemu-system-aarch64; it refuses PC machine types for it.
func (c *Config) archDefaults() error {
	switch c.Arch {
	case "", "amd64":
		if c.Machine != MachineVirt {
			return nil
		}
		c.Arch = "arm64"
	case "arm64":
	default:
		return fmt.Errorf("architecture %q: want amd64 or arm64", c.Arch)
	}
	switch c.Machine {
	case "", MachineVirt:
		c.Machine = MachineVirt
	default:
		return fmt.Errorf("machine %s is a PC; an arm64 guest runs on machine virt", c.Machine)
	}
	if c.FirmwareKind == FirmwareBIOS {
		return errors.New("arm64 has no BIOS: use firmware uefi (AAVMF) or none (a kernel booted directly)")
	}
	if c.QEMU == "" {
		c.QEMU = arm64Binary
	}
	return nil
}

// arm64Firmware lists where distributions install the arm64 UEFI
// firmware as a pflash pair, best first.
var arm64Firmware = []firmwarePair{
	// Debian, Ubuntu (package qemu-efi-aarch64).
	{"usr/share/AAVMF/AAVMF_CODE.fd", "usr/share/AAVMF/AAVMF_VARS.fd"},
	// Fedora (edk2-aarch64).
	{"usr/share/edk2/aarch64/QEMU_EFI-pflash.raw", "usr/share/edk2/aarch64/vars-template-pflash.raw"},
	// Arch (edk2-aarch64).
	{"usr/share/edk2/aarch64/QEMU_CODE.fd", "usr/share/edk2/aarch64/QEMU_VARS.fd"},
	// QEMU's own firmware (Homebrew and source installs).
	{"usr/share/qemu/edk2-aarch64-code.fd", "usr/share/qemu/edk2-arm-vars.fd"},
	{"opt/homebrew/share/qemu/edk2-aarch64-code.fd", "opt/homebrew/share/qemu/edk2-arm-vars.fd"},
}

// FindFirmwareArm64 locates the arm64 UEFI firmware (AAVMF) the way
// FindFirmware locates OVMF; override is "CODE,VARS" or "CODE".
func FindFirmwareArm64(override string) (Firmware, error) {
	return findFirmwareArm64("/", override)
}

func findFirmwareArm64(root, override string) (Firmware, error) {
	if override != "" {
		return overrideFirmware(override)
	}
	var looked []string
	for _, p := range arm64Firmware {
		code, vars := filepath.Join(root, p.code), filepath.Join(root, p.vars)
		if isFile(code) && isFile(vars) {
			return Firmware{Code: code, Vars: vars}, nil
		}
		looked = append(looked, code)
	}
	return Firmware{}, fmt.Errorf("%w (looked for %s); install it with `apt-get install qemu-efi-aarch64` "+
		"(Fedora: dnf install edk2-aarch64, Arch: pacman -S edk2-aarch64, macOS: brew install qemu) "+
		"or name the files with --firmware CODE,VARS", ErrNoAAVMF, strings.Join(looked, ", "))
}

// findFirmwareFor is FindFirmware for c's architecture.
func findFirmwareFor(c Config) (Firmware, error) {
	if c.IsArm64() {
		return FindFirmwareArm64("")
	}
	return FindFirmware("")
}

// resolveAccelArm64 turns AccelAuto into KVM (or HVF) only on an arm64
// host that has it: an arm64 guest on any other host is emulated.
func resolveAccelArm64(a Accel) Accel {
	if a != AccelAuto && a != "" {
		return a
	}
	if runtime.GOARCH == "arm64" {
		if hw := hardwareAccel(); hw != "" {
			return hw
		}
	}
	return AccelTCG
}

// virtCPU is the -cpu of the virt machine under accelerator a (KVM and
// HVF already asked for the host's).
func virtCPU(a Accel) []string {
	switch a {
	case AccelKVM, AccelHVF:
		return nil
	case AccelTCG:
		// pauth-impdef: QEMU's own pointer-authentication hash instead of
		// the architected QARMA one, several times faster under TCG.
		return []string{"-cpu", "max,pauth-impdef=on"}
	}
	return []string{"-cpu", "max"}
}

// virtCDROM attaches the boot image as a CD on virtio-scsi, which AAVMF
// boots from: virt has no IDE or AHCI controller.
func virtCDROM(drive string) []string {
	return []string{"-device", "virtio-scsi-pci,id=scsi", "-drive", drive + ",media=cdrom",
		"-device", "scsi-cd,drive=boot,bus=scsi.0,bootindex=0"}
}

// qemuPackages are the packages of the emulator binary name: Debian's,
// and Fedora's and Arch's (which agree).
func qemuPackages(name string) (deb, other string) {
	if filepath.Base(name) == arm64Binary {
		return arch.MustLookup("arm64").QEMUPackage, "qemu-system-aarch64"
	}
	return arch.MustLookup(arch.Default).QEMUPackage, "qemu-system-x86"
}
