package app

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func writeModule(t *testing.T, dir, main string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/app\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBuildGoAndCheck(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("go not on PATH")
	}
	dir := t.TempDir()
	writeModule(t, filepath.Join(dir, "hello"), "package main\nfunc main() { println(\"hi\") }\n")
	out := filepath.Join(dir, "hello.bin")
	if err := BuildGo(context.Background(), "./hello", dir, out); err != nil {
		t.Fatal(err)
	}
	if err := CheckBinary(out); err != nil {
		t.Fatalf("built binary rejected: %v", err)
	}
}

func TestBuildGoCompileError(t *testing.T) {
	dir := t.TempDir()
	writeModule(t, filepath.Join(dir, "bad"), "package main\nfunc main() { undefinedThing() }\n")
	err := BuildGo(context.Background(), "./bad", dir, filepath.Join(dir, "out"))
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("got %v, want a BuildError", err)
	}
	if !strings.Contains(err.Error(), "undefined: undefinedThing") {
		t.Errorf("compiler message missing from %q", err)
	}
}

func TestBuildGoMissingDir(t *testing.T) {
	if err := BuildGo(context.Background(), "./nope", t.TempDir(), "x"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("got %v", err)
	}
}

func TestCheckBinary(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "script")
	if err := os.WriteFile(text, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"not ELF", text, "not an ELF"},
		{"dynamic", "/bin/ls", `dynamically linked (interpreter "/lib64/ld-linux-x86-64.so.2")`},
		{"missing", filepath.Join(dir, "missing"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckBinary(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCheckBinaryWrongArch(t *testing.T) {
	dir := t.TempDir()
	writeModule(t, filepath.Join(dir, "m"), "package main\nfunc main() {}\n")
	out := filepath.Join(dir, "arm")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = filepath.Join(dir, "m")
	cmd.Env = append(os.Environ(), "GOARCH=arm64", "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if err := CheckBinary(out); err == nil || !strings.Contains(err.Error(), "not x86-64") {
		t.Fatalf("got %v", err)
	}
}

// hostileExec is an x86-64 ELF executable header whose PT_INTERP segment
// claims interpSize bytes at offset 120 of a 256-byte file.
func hostileExec(interpSize uint64) []byte {
	var b bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Entry: 0x401000, Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: 1,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	binary.Write(&b, binary.LittleEndian, hdr)
	binary.Write(&b, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_INTERP), Off: 120, Filesz: interpSize, Memsz: interpSize, Align: 1})
	b.WriteString("/lib/ld.so\x00")
	for b.Len() < 256 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// TestCheckBinaryHostile feeds CheckBinary headers that lie: the checks
// must answer with a message that names the field, not panic or allocate
// what a header claims.
func TestCheckBinaryHostile(t *testing.T) {
	dir := t.TempDir()
	full := hostileExec(11)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"huge interpreter", hostileExec(1 << 40), `dynamically linked (interpreter "/lib/ld.so")`},
		{"interpreter past the end", hostileExec(4096), `interpreter "/lib/ld.so"`},
		{"truncated header", full[:20], "not an ELF executable"},
		{"empty", nil, "not an ELF executable"},
		{"ELF magic only", []byte("\x7fELF"), "not an ELF executable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.WriteFile(p, tt.data, 0o755); err != nil {
				t.Fatal(err)
			}
			err := CheckBinary(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "app.binary "+p+":") {
				t.Fatalf("got %v, want app.binary %s: ...%s...", err, p, tt.want)
			}
		})
	}
}
