package arch

import (
	"debug/elf"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name, want, bootPath string
		machine              elf.Machine
	}{
		{"", "amd64", "EFI/BOOT/BOOTX64.EFI", elf.EM_X86_64},
		{"amd64", "amd64", "EFI/BOOT/BOOTX64.EFI", elf.EM_X86_64},
		{"arm64", "arm64", "EFI/BOOT/BOOTAA64.EFI", elf.EM_AARCH64},
	}
	for _, tt := range tests {
		a, err := Lookup(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != tt.want || a.ESPBootPath != tt.bootPath || a.ELFMachine != tt.machine {
			t.Errorf("Lookup(%q) = %+v", tt.name, a)
		}
		if b, ok := ByELFMachine(tt.machine); !ok || b.Name != tt.want {
			t.Errorf("ByELFMachine(%v) = %v, %v", tt.machine, b.Name, ok)
		}
		if b, ok := ByPEMachine(a.PEMachine); !ok || b.Name != tt.want {
			t.Errorf("ByPEMachine(%#x) = %v, %v", a.PEMachine, b.Name, ok)
		}
	}
	if _, err := Lookup("riscv64"); err == nil || !strings.Contains(err.Error(), "amd64, arm64") {
		t.Errorf("Lookup(riscv64) = %v, want the known names", err)
	}
	if _, ok := ByELFMachine(elf.EM_RISCV); ok {
		t.Error("ByELFMachine found riscv")
	}
}

func TestKernelPackageFor(t *testing.T) {
	arm, amd := MustLookup("arm64"), MustLookup("amd64")
	tests := []struct {
		a    Arch
		pkg  string
		want string
	}{
		{arm, "linux-image-amd64", "linux-image-arm64"},
		{arm, "linux-image-arm64", "linux-image-arm64"},
		{amd, "linux-image-arm64", "linux-image-amd64"},
		{arm, "linux-image-cloud-amd64", "linux-image-cloud-amd64"},
		{arm, "linux-image-6.1.0-57-arm64", "linux-image-6.1.0-57-arm64"},
	}
	for _, tt := range tests {
		if got := tt.a.KernelPackageFor(tt.pkg); got != tt.want {
			t.Errorf("%s.KernelPackageFor(%q) = %q, want %q", tt.a.Name, tt.pkg, got, tt.want)
		}
	}
}

func TestConsoleFor(t *testing.T) {
	arm, amd := MustLookup("arm64"), MustLookup("amd64")
	tests := []struct {
		a          Arch
		word, want string
	}{
		{arm, "console=ttyS0", "console=ttyAMA0"},
		{arm, "console=ttyS0,115200n8", "console=ttyAMA0,115200n8"},
		{arm, "console=ttyAMA0", "console=ttyAMA0"},
		{amd, "console=ttyAMA0,115200", "console=ttyS0,115200"},
		{amd, "console=ttyS0", "console=ttyS0"},
		{arm, "console=ttyS1", "console=ttyS1"},
		{arm, "console=tty0", "console=tty0"},
		{arm, "earlycon=ttyS0", "earlycon=ttyS0"},
	}
	for _, tt := range tests {
		if got := tt.a.ConsoleFor(tt.word); got != tt.want {
			t.Errorf("%s.ConsoleFor(%q) = %q, want %q", tt.a.Name, tt.word, got, tt.want)
		}
	}
}
