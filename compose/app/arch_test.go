package app

import (
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/internal/arch"
	"github.com/tinyboot/tinyboot/internal/elftest"
)

// TestCheckExecutableArch checks the ELF machine against the image's
// architecture, and that the message says which is which.
func TestCheckExecutableArch(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	amd := write("amd", elftest.Exec(elf.EM_X86_64, ""))
	arm := write("arm", elftest.Exec(elf.EM_AARCH64, ""))
	armDyn := write("arm-dyn", elftest.Exec(elf.EM_AARCH64, "/lib/ld-linux-aarch64.so.1"))
	riscv := write("riscv", elftest.Exec(elf.EM_RISCV, ""))
	tests := []struct {
		path, arch string
		want       []string // nil: accepted
	}{
		{arm, "arm64", nil},
		{amd, "amd64", nil},
		{amd, "arm64", []string{"built for x86-64 (amd64)", "not aarch64", "the image is arm64", "GOARCH=arm64"}},
		{arm, "amd64", []string{"built for aarch64 (arm64)", "not x86-64", "GOARCH=amd64"}},
		{riscv, "arm64", []string{"EM_RISCV", "GOARCH=arm64"}},
		{armDyn, "arm64", []string{`dynamically linked (interpreter "/lib/ld-linux-aarch64.so.1")`}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path)+" in "+tt.arch, func(t *testing.T) {
			err := CheckBinaryArch(tt.path, arch.MustLookup(tt.arch))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range append(tt.want, "app.binary") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestBuildGoArm64 builds a Go package for an arm64 image: a static
// aarch64 executable, whatever the host.
func TestBuildGoArm64(t *testing.T) {
	dir := t.TempDir()
	writeModule(t, filepath.Join(dir, "m"), "package main\nfunc main() {}\n")
	out := filepath.Join(dir, "app")
	if err := BuildGoWith(context.Background(), "./m", dir, out, Options{Arch: "arm64"}); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Fatalf("built for %v, want aarch64", f.Machine)
	}
	if err := CheckBinaryArch(out, arch.MustLookup("arm64")); err != nil {
		t.Fatalf("the build is not what an arm64 image runs: %v", err)
	}
}
