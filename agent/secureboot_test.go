package agent

import (
	"os"

	"golang.org/x/sys/unix"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecureBootState(t *testing.T) {
	tests := []struct {
		name      string
		uefi      bool
		value     []byte // SecureBoot variable contents; nil: absent
		sbByte    byte   // boot_params.secure_boot; 0: no boot_params file
		mountErr  error
		want      string
		wantMount bool
	}{
		{"BIOS boot", false, nil, 0, nil, "not UEFI", false},
		{"enabled", true, []byte{6, 0, 0, 0, 1}, 0, nil, "enabled", false},
		{"disabled", true, []byte{6, 0, 0, 0, 0}, 3, nil, "disabled", false},
		{"absent after mounting efivarfs", true, nil, 0, nil, "disabled", true},
		{"truncated variable, boot_params says enabled", true, []byte{6, 0, 0, 0}, 3, nil, "enabled", false},
		{"no efivarfs, boot_params enabled", true, nil, 3, unix.ENODEV, "enabled", true},
		{"no efivarfs, boot_params disabled", true, nil, 2, unix.ENODEV, "disabled", true},
		{"no efivarfs, boot_params unknown", true, nil, 1, unix.ENODEV, "unknown", true},
		{"no efivarfs, no boot_params", true, nil, 0, unix.ENODEV, "unknown", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "efi", "efivars")
			if tt.uefi {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tt.value != nil {
				if err := os.WriteFile(filepath.Join(dir, secureBootVar), tt.value, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			params := filepath.Join(t.TempDir(), "boot_params")
			if tt.sbByte != 0 {
				b := make([]byte, 4096)
				b[bootParamsSecureBoot] = tt.sbByte
				if err := os.WriteFile(params, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fake := &fakeSys{}
			var sys System = fake
			if tt.mountErr != nil {
				sys = failingMount{fake, tt.mountErr}
			}
			if got := secureBootState(sys, dir, params); !strings.HasPrefix(got, tt.want) {
				t.Errorf("state %q, want %q", got, tt.want)
			}
			mounted := strings.Contains(strings.Join(fake.Calls(), "\n"), "mount efivarfs "+dir+" efivarfs")
			if mounted != tt.wantMount {
				t.Errorf("mounted efivarfs %v, want %v (calls %q)", mounted, tt.wantMount, fake.Calls())
			}
		})
	}
}

// failingMount records a mount like fakeSys, then fails it, as mounting
// efivarfs does when the kernel lacks it.
type failingMount struct {
	*fakeSys
	err error
}

func (f failingMount) Mount(source, target, fstype string, flags uintptr, data string) error {
	f.fakeSys.Mount(source, target, fstype, flags, data)
	return f.err
}
