// Package arch is everything tinyboot knows about the CPU architectures
// it builds images for, in one table: what the Go toolchain, Debian, the
// ELF format, UEFI and QEMU call each one, and what differs between them
// at boot. Callers look an architecture up once and read its fields
// rather than switching on its name.
package arch

import (
	"debug/elf"
	"debug/pe"
	"fmt"
	"slices"
	"strings"
)

// Arch is one architecture an image can be built for.
type Arch struct {
	// Name is the architecture as the spec, Debian and GOARCH all spell
	// it: amd64, arm64.
	Name string
	// ELFMachine is the e_machine of its executables.
	ELFMachine elf.Machine
	// ELFName is ELFMachine as people say it (x86-64, aarch64).
	ELFName string
	// PEMachine is the COFF machine of its UEFI executables (the stub).
	PEMachine uint16
	// ESPBootPath is the removable-media path UEFI firmware of this
	// architecture boots without a boot entry.
	ESPBootPath string
	// StubFile is systemd's UEFI stub in the stub package's data.
	StubFile string
	// KernelPackage is Debian's kernel meta package of this architecture.
	KernelPackage string
	// SerialConsole is the kernel's name of the first serial port on the
	// machines tinyboot targets (the 16550 of a PC, the PL011 of an arm64
	// virt machine or server).
	SerialConsole string
	// QEMU is the system emulator binary and QEMUPackage the Debian
	// package that provides it.
	QEMU, QEMUPackage string
	// BIOS says whether legacy BIOS boot exists on this architecture.
	BIOS bool
}

// Default is the architecture of a spec that names none.
const Default = "amd64"

// known is the table, in the order names are listed in messages.
var known = []Arch{
	{
		Name: "amd64", ELFMachine: elf.EM_X86_64, ELFName: "x86-64", PEMachine: pe.IMAGE_FILE_MACHINE_AMD64,
		ESPBootPath:   "EFI/BOOT/BOOTX64.EFI",
		StubFile:      "usr/lib/systemd/boot/efi/linuxx64.efi.stub",
		KernelPackage: "linux-image-amd64",
		SerialConsole: "ttyS0",
		QEMU:          "qemu-system-x86_64", QEMUPackage: "qemu-system-x86",
		BIOS: true,
	},
	{
		Name: "arm64", ELFMachine: elf.EM_AARCH64, ELFName: "aarch64", PEMachine: pe.IMAGE_FILE_MACHINE_ARM64,
		ESPBootPath:   "EFI/BOOT/BOOTAA64.EFI",
		StubFile:      "usr/lib/systemd/boot/efi/linuxaa64.efi.stub",
		KernelPackage: "linux-image-arm64",
		SerialConsole: "ttyAMA0",
		QEMU:          "qemu-system-aarch64", QEMUPackage: "qemu-system-arm",
	},
}

// Names lists the known architectures.
func Names() []string {
	names := make([]string, len(known))
	for i, a := range known {
		names[i] = a.Name
	}
	return names
}

// Lookup finds an architecture by name; the error lists the known ones.
func Lookup(name string) (Arch, error) {
	if name == "" {
		name = Default
	}
	for _, a := range known {
		if a.Name == name {
			return a, nil
		}
	}
	return Arch{}, fmt.Errorf("unknown architecture %q; want one of %s", name, strings.Join(Names(), ", "))
}

// MustLookup is Lookup for names already checked (a validated spec's);
// an unknown name gives the default architecture.
func MustLookup(name string) Arch {
	a, err := Lookup(name)
	if err != nil {
		a, _ = Lookup(Default)
	}
	return a
}

// ByPEMachine finds the architecture whose UEFI executables have COFF
// machine m.
func ByPEMachine(m uint16) (Arch, bool) {
	return find(func(a Arch) bool { return a.PEMachine == m })
}

// ByELFMachine finds the architecture whose executables have machine m.
func ByELFMachine(m elf.Machine) (Arch, bool) {
	return find(func(a Arch) bool { return a.ELFMachine == m })
}

func find(match func(Arch) bool) (Arch, bool) {
	i := slices.IndexFunc(known, match)
	if i < 0 {
		return Arch{}, false
	}
	return known[i], true
}

// KernelPackageFor is the kernel package to build an image of a with when
// the spec asks for pkg: another architecture's meta package (the example
// names linux-image-amd64) stands for a's own, so that one spec builds for
// every architecture; any other name is used as it is.
func (a Arch) KernelPackageFor(pkg string) string {
	for _, o := range known {
		if pkg == o.KernelPackage {
			return a.KernelPackage
		}
	}
	return pkg
}

// ConsoleFor rewrites a console= word naming another architecture's
// first serial port to a's (console=ttyS0,115200 becomes
// console=ttyAMA0,115200 on arm64); any other word is returned as it is.
func (a Arch) ConsoleFor(word string) string {
	dev, ok := strings.CutPrefix(word, "console=")
	if !ok {
		return word
	}
	name, opts, _ := strings.Cut(dev, ",")
	for _, o := range known {
		if name == o.SerialConsole && o.SerialConsole != a.SerialConsole {
			if opts != "" {
				return "console=" + a.SerialConsole + "," + opts
			}
			return "console=" + a.SerialConsole
		}
	}
	return word
}
