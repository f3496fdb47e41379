package qemu

import "fmt"

// Machine is a QEMU machine type.
type Machine string

// Machine types.
const (
	// MachineQ35 is a PC with PCIe, AHCI, USB and ACPI: it boots every
	// tinyboot format.
	MachineQ35 Machine = "q35"
	// MachineMicroVM is QEMU's minimal machine, modelled on Firecracker:
	// no PCI, virtio devices on virtio-mmio, an ISA serial port, ACPI
	// with a generic event device (GED) for the power button, and qboot
	// as its only firmware. It boots a kernel directly (Config.Kernel).
	MachineMicroVM Machine = "microvm"
)

// ParseMachine parses a machine type name; "" is MachineQ35.
func ParseMachine(s string) (Machine, error) {
	switch m := Machine(s); m {
	case MachineQ35, MachineMicroVM, MachineVirt:
		return m, nil
	case "":
		return MachineQ35, nil
	}
	return "", fmt.Errorf("machine %q: want q35, microvm or virt (arm64)", s)
}

// FirmwareKind is what runs before the guest's own code.
type FirmwareKind string

// Firmware kinds.
const (
	// FirmwareUEFI is OVMF from two pflash drives (Config.Firmware). It
	// boots images and, through its Linux loader, a kernel too.
	FirmwareUEFI FirmwareKind = "uefi"
	// FirmwareBIOS is QEMU's built-in legacy BIOS: SeaBIOS on q35 (no
	// -bios, no pflash), qboot on microvm.
	FirmwareBIOS FirmwareKind = "bios"
	// FirmwareNone is direct kernel boot: QEMU loads Config.Kernel and
	// Config.Initrd into memory itself. (QEMU's built-in BIOS still runs,
	// for a fraction of a second, to jump to them.)
	FirmwareNone FirmwareKind = "none"
)

// ParseFirmwareKind parses a firmware kind name.
func ParseFirmwareKind(s string) (FirmwareKind, error) {
	switch k := FirmwareKind(s); k {
	case FirmwareUEFI, FirmwareBIOS, FirmwareNone:
		return k, nil
	}
	return "", fmt.Errorf("firmware %q: want uefi, bios or none", s)
}

// checkMachine checks the combination of machine, firmware and boot
// source in c, whose defaults are filled in.
func (c Config) checkMachine() error {
	if c.Kernel == "" && (c.Initrd != "" || c.Append != "") {
		return fmt.Errorf("an initrd or kernel command line needs a kernel")
	}
	if c.Kernel != "" && c.Image != "" {
		return fmt.Errorf("boot either a kernel or an image, not both")
	}
	if c.FirmwareKind == FirmwareNone && c.Kernel == "" {
		return fmt.Errorf("firmware none boots a kernel directly: give a kernel (the kernel format), or use firmware bios or uefi for an image")
	}
	if c.Machine != MachineMicroVM {
		return nil
	}
	if c.Kernel == "" {
		return fmt.Errorf("machine microvm boots only a kernel (the kernel format, vmlinuz + initrd.img + cmdline), not an image: use machine q35 for an ISO, disk image or UKI")
	}
	if c.FirmwareKind == FirmwareUEFI {
		return fmt.Errorf("machine microvm has no UEFI firmware (no pflash, no PCI for OVMF's q35 build): use firmware none (or bios, its built-in qboot)")
	}
	return nil
}
