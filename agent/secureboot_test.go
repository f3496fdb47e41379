package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecureBootState(t *testing.T) {
	tests := []struct {
		name      string
		uefi      bool
		value     []byte // SecureBoot variable contents; nil: absent
		want      string
		wantMount bool
	}{
		{"BIOS boot", false, nil, "not UEFI", false},
		{"enabled", true, []byte{6, 0, 0, 0, 1}, "enabled", false},
		{"disabled", true, []byte{6, 0, 0, 0, 0}, "disabled", false},
		{"absent after mounting efivarfs", true, nil, "disabled", true},
		{"truncated", true, []byte{6, 0, 0, 0}, "disabled", false},
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
			sys := &fakeSys{}
			if got := secureBootState(sys, dir); got != tt.want {
				t.Errorf("state %q, want %q", got, tt.want)
			}
			mounted := strings.Contains(strings.Join(sys.Calls(), "\n"), "mount efivarfs "+dir+" efivarfs")
			if mounted != tt.wantMount {
				t.Errorf("mounted efivarfs %v, want %v (calls %q)", mounted, tt.wantMount, sys.Calls())
			}
		})
	}
}
