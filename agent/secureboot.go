package agent

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// efiVarsDir is where the kernel's efivarfs is mounted by convention.
const efiVarsDir = "/sys/firmware/efi/efivars"

// secureBootVar is the firmware's SecureBoot variable (EFI global
// variable GUID): four bytes of attributes, then 1 when images are
// verified.
const secureBootVar = "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

// secureBootState reports whether the firmware booted with Secure Boot:
// "enabled", "disabled", or "not UEFI" when the kernel was not started by
// UEFI firmware. efivarfs is mounted on dir if it is not yet.
func secureBootState(sys System, dir string) string {
	if _, err := os.Stat(filepath.Dir(dir)); err != nil {
		return "not UEFI"
	}
	b, err := os.ReadFile(filepath.Join(dir, secureBootVar))
	if errors.Is(err, fs.ErrNotExist) {
		// Not mounted yet (or the variable is absent, which means off).
		if merr := sys.Mount("efivarfs", dir, "efivarfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); merr == nil || errors.Is(merr, unix.EBUSY) {
			b, err = os.ReadFile(filepath.Join(dir, secureBootVar))
		}
	}
	if err == nil && len(b) >= 5 && b[4] == 1 {
		return "enabled"
	}
	return "disabled"
}
