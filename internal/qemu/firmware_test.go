package qemu

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func touch(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("fd"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindFirmware(t *testing.T) {
	tests := []struct {
		name      string
		files     []string // relative to the fake root
		wantCode  string
		wantVars  string
		wantError bool
	}{
		{
			name:     "debian 4M preferred over 2M",
			files:    []string{"usr/share/OVMF/OVMF_CODE.fd", "usr/share/OVMF/OVMF_VARS.fd", "usr/share/OVMF/OVMF_CODE_4M.fd", "usr/share/OVMF/OVMF_VARS_4M.fd"},
			wantCode: "usr/share/OVMF/OVMF_CODE_4M.fd", wantVars: "usr/share/OVMF/OVMF_VARS_4M.fd",
		},
		{
			name:     "debian 2M",
			files:    []string{"usr/share/OVMF/OVMF_CODE.fd", "usr/share/OVMF/OVMF_VARS.fd"},
			wantCode: "usr/share/OVMF/OVMF_CODE.fd", wantVars: "usr/share/OVMF/OVMF_VARS.fd",
		},
		{
			name:     "fedora",
			files:    []string{"usr/share/edk2/ovmf/OVMF_CODE.fd", "usr/share/edk2/ovmf/OVMF_VARS.fd"},
			wantCode: "usr/share/edk2/ovmf/OVMF_CODE.fd", wantVars: "usr/share/edk2/ovmf/OVMF_VARS.fd",
		},
		{
			name:     "arch",
			files:    []string{"usr/share/edk2/x64/OVMF_CODE.4m.fd", "usr/share/edk2/x64/OVMF_VARS.4m.fd"},
			wantCode: "usr/share/edk2/x64/OVMF_CODE.4m.fd", wantVars: "usr/share/edk2/x64/OVMF_VARS.4m.fd",
		},
		{
			name:     "arch old layout",
			files:    []string{"usr/share/edk2-ovmf/x64/OVMF_CODE.fd", "usr/share/edk2-ovmf/x64/OVMF_VARS.fd"},
			wantCode: "usr/share/edk2-ovmf/x64/OVMF_CODE.fd", wantVars: "usr/share/edk2-ovmf/x64/OVMF_VARS.fd",
		},
		{
			name:     "homebrew apple silicon",
			files:    []string{"opt/homebrew/share/qemu/edk2-x86_64-code.fd", "opt/homebrew/share/qemu/edk2-i386-vars.fd"},
			wantCode: "opt/homebrew/share/qemu/edk2-x86_64-code.fd", wantVars: "opt/homebrew/share/qemu/edk2-i386-vars.fd",
		},
		{
			name:     "homebrew intel",
			files:    []string{"usr/local/share/qemu/edk2-x86_64-code.fd", "usr/local/share/qemu/edk2-i386-vars.fd"},
			wantCode: "usr/local/share/qemu/edk2-x86_64-code.fd", wantVars: "usr/local/share/qemu/edk2-i386-vars.fd",
		},
		{
			name:      "code without vars is not a pair",
			files:     []string{"usr/share/OVMF/OVMF_CODE_4M.fd"},
			wantError: true,
		},
		{name: "nothing", wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tt.files {
				touch(t, filepath.Join(root, f))
			}
			fw, err := findFirmware(root, []string{"/opt/homebrew", "/usr/local"}, "")
			if tt.wantError {
				if !errors.Is(err, ErrNoFirmware) || !strings.Contains(err.Error(), "apt-get install ovmf") {
					t.Fatalf("err = %v, want ErrNoFirmware naming the package", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Firmware{Code: filepath.Join(root, tt.wantCode), Vars: filepath.Join(root, tt.wantVars)}
			if fw != want {
				t.Errorf("got %+v, want %+v", fw, want)
			}
		})
	}
}

func TestFindFirmwareOverride(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	touch(t, p("OVMF_CODE_4M.fd"), p("OVMF_VARS_4M.fd"), p("edk2-x86_64-code.fd"), p("edk2-i386-vars.fd"),
		p("my-code.fd"), p("nvram.bin"), p("lonely.fd"))
	tests := []struct {
		override string
		want     Firmware
		wantErr  string
	}{
		{p("OVMF_CODE_4M.fd"), Firmware{p("OVMF_CODE_4M.fd"), p("OVMF_VARS_4M.fd")}, ""},
		{p("edk2-x86_64-code.fd"), Firmware{p("edk2-x86_64-code.fd"), p("edk2-i386-vars.fd")}, ""},
		{p("my-code.fd") + "," + p("nvram.bin"), Firmware{p("my-code.fd"), p("nvram.bin")}, ""},
		{p("my-code.fd"), Firmware{}, "no matching vars"},
		{p("lonely.fd"), Firmware{}, "no matching vars"},
		{p("missing.fd"), Firmware{}, "not a readable file"},
		{p("my-code.fd") + "," + p("missing.fd"), Firmware{}, "not a readable file"},
		{dir, Firmware{}, "not a readable file"},
	}
	for _, tt := range tests {
		// The override wins even where system firmware exists.
		got, err := findFirmware("/", nil, tt.override)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want %q", tt.override, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.override, got, err, tt.want)
		}
	}
}

func TestCopyVars(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "VARS.fd")
	if err := os.WriteFile(src, []byte("nvram"), 0o444); err != nil {
		t.Fatal(err)
	}
	vmDir := t.TempDir()
	dst, err := Firmware{Vars: src}.copyVars(vmDir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dst) != vmDir {
		t.Errorf("copy at %s, want it inside %s", dst, vmDir)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != "nvram" {
		t.Errorf("copy holds %q, %v", b, err)
	}
	fi, err := os.Stat(dst)
	if err != nil || fi.Mode().Perm()&0o200 == 0 {
		t.Errorf("copy not writable: %v %v", fi.Mode(), err)
	}
}
