package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/compose/kernel"
)

func TestLockRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := LockPath(filepath.Join(dir, "tinyboot.yaml"))
	if l, err := ReadLock(path); l != nil || err != nil {
		t.Fatalf("missing lock: %v, %v; want nil, nil", l, err)
	}
	l := &Lock{Version: LockVersion, Kernel: "linux-image-amd64", Packages: []kernel.Package{
		{Name: "linux-image-amd64", Version: "6.1.192-2", SHA256: strings.Repeat("a", 64)},
		{Name: "linux-image-6.1.0-56-amd64", Version: "6.1.192-2", SHA256: strings.Repeat("b", 64)},
	}}
	if err := WriteLock(path, l); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(l) {
		t.Fatalf("read back %+v, want %+v", got, l)
	}
	other := *got
	other.Packages = append([]kernel.Package{}, got.Packages...)
	other.Packages[1].Version = "6.1.193-1"
	if other.Equal(l) {
		t.Error("locks pinning different versions compare equal")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("lock writing left %d files, want 1", len(entries))
	}
}

func TestReadLockErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not json", "{", "unexpected EOF"},
		{"unknown field", `{"version":1,"kernel":"k","packages":[],"extra":1}`, "unknown field"},
		{"other version", `{"version":9,"kernel":"k","packages":[]}`, "lock version 9"},
		{"short sha", `{"version":1,"kernel":"k","packages":[{"name":"a","version":"1","sha256":"ab"}]}`, "lacks a name, version or sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), LockName)
			if err := os.WriteFile(path, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadLock(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "--update") {
				t.Fatalf("got %v, want %q and a hint to --update", err, tt.want)
			}
		})
	}
}

func TestCmdline(t *testing.T) {
	tests := []struct {
		extra []string
		want  string
	}{
		{nil, "console=tty0 console=ttyS0,115200 quiet panic=10"},
		{[]string{"console=ttyS0"}, "quiet panic=10 console=ttyS0"},
		{[]string{"panic=-1", "loglevel=7"}, "console=tty0 console=ttyS0,115200 panic=-1 loglevel=7"},
		{[]string{"foo"}, "console=tty0 console=ttyS0,115200 quiet panic=10 foo"},
	}
	for _, tt := range tests {
		if got := Cmdline(tt.extra); got != tt.want {
			t.Errorf("Cmdline(%q) = %q, want %q", tt.extra, got, tt.want)
		}
	}
}

func TestVolumeID(t *testing.T) {
	for in, want := range map[string]string{
		"hello":                       "HELLO",
		"my-app-2":                    "MY_APP_2",
		"":                            "TINYBOOT",
		"a" + strings.Repeat("b", 40): "A" + strings.Repeat("B", 31),
	} {
		if got := VolumeID(in); got != want {
			t.Errorf("VolumeID(%q) = %q, want %q", in, got, want)
		}
	}
}
