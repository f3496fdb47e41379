package qemu

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/tinyboot/tinyboot/internal/arch"
)

// ErrNoAAVMF is returned (wrapped) when no arm64 UEFI firmware is found.
var ErrNoAAVMF = errors.New("no AAVMF (arm64 UEFI) firmware found")

// IsArm64 reports whether cfg boots an arm64 image.
func (c Config) IsArm64() bool { return c.Arch == "arm64" }

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

// buildArgsArm64 is BuildArgs for an arm64 image: QEMU's virt machine
// with the arm64 UEFI firmware in pflash, the CD on virtio-scsi (which
// AAVMF boots from; virt has no IDE or AHCI controller), and PCI devices
// where a PC has ISA ones.
func buildArgsArm64(cfg Config, inst Instance) ([]string, error) {
	if cfg.Firmware.Code == "" || cfg.Firmware.Vars == "" {
		return nil, fmt.Errorf("build qemu command: firmware code and vars are required")
	}
	args := []string{cfg.QEMU, "-machine", "virt"}
	switch cfg.Accel {
	case AccelKVM, AccelHVF:
		args = append(args, "-accel", string(cfg.Accel), "-cpu", "host")
	case AccelAuto:
		args = append(args, "-accel", "kvm", "-accel", "tcg", "-cpu", "max")
	default:
		// pauth-impdef: QEMU's own pointer-authentication hash instead of
		// the architected QARMA one, several times faster under TCG.
		args = append(args, "-accel", string(cfg.Accel), "-cpu", "max,pauth-impdef=on")
	}
	args = append(args,
		"-m", cfg.Memory,
		"-smp", strconv.Itoa(cfg.CPUs),
		"-nodefaults", "-no-user-config",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+optEscape(cfg.Firmware.Code),
	)
	if inst.Vars != "" {
		args = append(args, "-drive", "if=pflash,format=raw,unit=1,file="+optEscape(inst.Vars))
	} else {
		args = append(args, "-drive", "if=pflash,format=raw,unit=1,snapshot=on,file="+optEscape(cfg.Firmware.Vars))
	}
	if cfg.Image != "" {
		drive := "if=none,id=boot,format=raw,readonly=on,file=" + optEscape(cfg.Image)
		switch cfg.Medium {
		case MediumCDROM:
			args = append(args, "-device", "virtio-scsi-pci,id=scsi", "-drive", drive+",media=cdrom",
				"-device", "scsi-cd,drive=boot,bus=scsi.0,bootindex=0")
		case MediumUSB:
			args = append(args, "-device", "qemu-xhci,id=xhci", "-drive", drive,
				"-device", "usb-storage,bus=xhci.0,drive=boot,bootindex=0")
		case MediumRaw:
			args = append(args, "-drive", drive, "-device", "virtio-blk-pci,drive=boot,bootindex=0")
		}
	}
	args = append(args, commonArgs(cfg, inst, "pvpanic-pci")...)
	return args, nil
}

// commonArgs are the parts of the command line after the boot medium that
// every machine shares: disks, network, entropy, the panic device (ISA
// pvpanic on a PC, pvpanic-pci elsewhere), console, QMP. BuildArgs writes
// the same for a PC; it can call this once the machine types settle.
func commonArgs(cfg Config, inst Instance, panicDevice string) []string {
	var args []string
	for _, d := range cfg.Disks {
		args = append(args, "-drive", "if=virtio,format=raw,file="+optEscape(d))
	}
	if cfg.NoNetwork {
		args = append(args, "-nic", "none")
	} else {
		nic := "user,model=virtio-net-pci"
		for _, p := range cfg.Publish {
			nic += fmt.Sprintf(",hostfwd=tcp::%d-:%d", p.Host, p.Guest)
		}
		args = append(args, "-nic", nic)
	}
	args = append(args, "-device", "virtio-rng-pci", "-device", panicDevice, "-display", "none")
	if inst.Interactive {
		args = append(args, "-serial", "mon:stdio")
	} else {
		args = append(args, "-serial", "stdio")
	}
	if inst.QMPSocket != "" {
		args = append(args, "-qmp", "unix:"+optEscape(inst.QMPSocket))
	}
	if cfg.NoReboot {
		args = append(args, "-no-reboot")
	}
	return append(args, cfg.ExtraArgs...)
}

// arm64Binary is the emulator of arm64 images.
var arm64Binary = arch.MustLookup("arm64").QEMU

// qemuPackages are the packages of the emulator binary name: Debian's,
// and Fedora's and Arch's (which agree).
func qemuPackages(name string) (deb, other string) {
	if filepath.Base(name) == arm64Binary {
		return arch.MustLookup("arm64").QEMUPackage, "qemu-system-aarch64"
	}
	return arch.MustLookup(arch.Default).QEMUPackage, "qemu-system-x86"
}
