package agent

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Where the Secure Boot state can be read.
const (
	// efiVarsDir is where efivarfs is mounted by convention. Debian
	// builds efivarfs as a module, so it may not be available.
	efiVarsDir = "/sys/firmware/efi/efivars"
	// bootParams is the x86 boot_params the kernel's EFI stub filled in;
	// its secure_boot byte is the firmware's state as the stub read it.
	bootParams = "/sys/kernel/boot_params/data"
)

// secureBootVar is the firmware's SecureBoot variable (EFI global
// variable GUID): four bytes of attributes, then 1 when images are
// verified.
const secureBootVar = "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

// bootParamsSecureBoot is the offset of boot_params.secure_boot, and
// its value for "enabled" (efi_secureboot_mode_enabled); 2 is disabled,
// 0 and 1 unset or unknown.
const (
	bootParamsSecureBoot = 0x1ec
	bootParamsSBEnabled  = 3
	bootParamsSBDisabled = 2
)

// secureBootState reports whether the firmware booted with Secure Boot:
// "enabled", "disabled", "not UEFI" when the kernel was not started by
// UEFI firmware, or "unknown" when neither source below can be read. It reads the SecureBoot variable from efivarfs under
// efiDir (mounting it there if need be), else the kernel's boot_params.
func secureBootState(sys System, efiDir, bootParamsPath string) string {
	if _, err := os.Stat(filepath.Dir(efiDir)); err != nil {
		return "not UEFI"
	}
	b, err := os.ReadFile(filepath.Join(efiDir, secureBootVar))
	if errors.Is(err, fs.ErrNotExist) {
		// efivarfs not mounted yet, or the variable is absent (off).
		if merr := sys.Mount("efivarfs", efiDir, "efivarfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); merr == nil || errors.Is(merr, unix.EBUSY) {
			b, err = os.ReadFile(filepath.Join(efiDir, secureBootVar))
			if errors.Is(err, fs.ErrNotExist) {
				return "disabled"
			}
		}
	}
	if err == nil && len(b) >= 5 {
		if b[4] == 1 {
			return "enabled"
		}
		return "disabled"
	}
	// No efivarfs (a module not in the image): ask what the EFI stub saw.
	if p, err := os.ReadFile(bootParamsPath); err == nil && len(p) > bootParamsSecureBoot {
		switch p[bootParamsSecureBoot] {
		case bootParamsSBEnabled:
			return "enabled"
		case bootParamsSBDisabled:
			return "disabled"
		}
	}
	return "unknown (no efivarfs; add the efivarfs module to modules)"
}
