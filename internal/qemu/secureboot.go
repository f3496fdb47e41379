package qemu

import (
	"fmt"
	"path/filepath"
	"strings"
)

// secureBootFirmware lists OVMF builds with Secure Boot (and SMM, which
// protects the variable store), best first; vars is the blank template.
var secureBootFirmware = []firmwarePair{
	// Debian, Ubuntu (package ovmf).
	{"usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "usr/share/OVMF/OVMF_VARS_4M.fd"},
	// Fedora, RHEL (package edk2-ovmf).
	{"usr/share/edk2/ovmf/OVMF_CODE.secboot.fd", "usr/share/edk2/ovmf/OVMF_VARS.secboot.fd"},
	// Arch (package edk2-ovmf).
	{"usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd", "usr/share/edk2/x64/OVMF_VARS.4m.fd"},
}

// FindSecureBootFirmware locates OVMF's Secure Boot build and its blank
// variable store template.
func FindSecureBootFirmware() (Firmware, error) {
	var looked []string
	for _, c := range secureBootFirmware {
		code, vars := filepath.Join("/", c.code), filepath.Join("/", c.vars)
		if isFile(code) && isFile(vars) {
			return Firmware{Code: code, Vars: vars}, nil
		}
		looked = append(looked, code)
	}
	return Firmware{}, fmt.Errorf("%w: no Secure Boot build (looked for %s); install it with `apt-get install ovmf`", ErrNoFirmware, strings.Join(looked, ", "))
}

// SecureBootArgs are the QEMU arguments OVMF's Secure Boot build needs on
// q35: SMM, and pflash that only SMM code may write, so the guest OS
// cannot rewrite the enrolled keys. QEMU merges the -machine options.
var SecureBootArgs = []string{"-machine", "smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on"}
