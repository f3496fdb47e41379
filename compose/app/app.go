// Package app turns the spec's app into a static linux/amd64 executable:
// it builds a Go package or checks a prebuilt binary.
package app

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildError is a Go build that failed; Output holds the compiler's
// messages so the user sees them as `go build` would print them.
type BuildError struct {
	Package string
	Output  string
	Err     error
}

func (e *BuildError) Error() string {
	msg := strings.TrimSpace(e.Output)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("go build %s failed:\n%s", e.Package, msg)
}

func (e *BuildError) Unwrap() error { return e.Err }

// GoEnv is the environment every app and agent build runs with: a static,
// cgo-free linux/amd64 binary, whatever the host is.
func GoEnv() []string {
	env := os.Environ()
	return append(env, "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-mod=readonly")
}

// GoBuildArgs are the flags that make the binary small and reproducible:
// no paths of the build machine, no symbol tables, no VCS stamp that a
// dirty tree would change.
var GoBuildArgs = []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// BuildGo builds pkg and writes the executable to out. pkg is a directory
// (absolute, or relative to dir) or an import path resolved from dir; a
// directory is built inside its own module, as `cd pkg && go build` would.
func BuildGo(ctx context.Context, pkg, dir, out string) error {
	workDir, target := dir, pkg
	if isDirPath(pkg) {
		abs := pkg
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(dir, pkg)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return fmt.Errorf("app %s: %w", pkg, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("app %s: not a directory", pkg)
		}
		workDir, target = abs, "."
	}
	args := append(append([]string{}, GoBuildArgs...), "-o", out, target)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = workDir
	cmd.Env = GoEnv()
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("app %s: the go command is not installed or not on PATH (https://go.dev/dl): %w", pkg, err)
		}
		return &BuildError{Package: pkg, Output: output.String(), Err: err}
	}
	return nil
}

// isDirPath tells a directory path from an import path the way the go
// command does: relative paths start with . or .., absolute ones with /.
func isDirPath(p string) bool {
	return p == "." || p == ".." || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || filepath.IsAbs(p)
}

// CheckBinary makes sure path is an executable the image can run: a
// static x86-64 ELF, since the image has no dynamic loader or libc.
func CheckBinary(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return fmt.Errorf("app binary %s is not an ELF executable (build it with GOOS=linux GOARCH=amd64 CGO_ENABLED=0)", path)
		}
		return fmt.Errorf("app binary %s: %w", path, err)
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("app binary %s is built for %s (%s), not x86-64 (build it with GOARCH=amd64)", path, f.Machine, f.Class)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("app binary %s is an ELF %s, not an executable", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		interp := make([]byte, p.Filesz)
		if _, err := p.ReadAt(interp, 0); err != nil {
			return fmt.Errorf("app binary %s: read interpreter: %w", path, err)
		}
		return fmt.Errorf("app binary %s is dynamically linked (interpreter %s); the image has no dynamic loader: build it statically (for Go: CGO_ENABLED=0)", path, strings.TrimRight(string(interp), "\x00"))
	}
	if f.Type == elf.ET_DYN && f.Entry == 0 {
		return fmt.Errorf("app binary %s is a shared library, not an executable", path)
	}
	return nil
}
