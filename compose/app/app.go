// Package app turns the spec's app into a static linux executable for the
// image's architecture: it builds a Go package or checks a prebuilt
// binary.
package app

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/tinyboot/tinyboot/internal/arch"
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
	return fmt.Sprintf("app.go %s: go build failed; fix these errors and build again:\n%s", e.Package, msg)
}

func (e *BuildError) Unwrap() error { return e.Err }

// GoEnv is the environment every amd64 app and agent build runs with.
func GoEnv() []string { return GoEnvArch(arch.Default) }

// GoEnvArch is the environment every app and agent build for goarch runs
// with: a static, cgo-free linux binary, whatever the host is.
func GoEnvArch(goarch string) []string {
	env := os.Environ()
	return append(env, "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOFLAGS=-mod=readonly")
}

// GoBuildArgs are the flags that make the binary small and reproducible:
// no paths of the build machine, no symbol tables, no VCS stamp that a
// dirty tree would change.
var GoBuildArgs = []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// BuildGo builds pkg and writes the executable to out. pkg is a directory
// (absolute, or relative to dir) or an import path resolved from dir; a
// directory is built inside its own module, as `cd pkg && go build` would.
func BuildGo(ctx context.Context, pkg, dir, out string) error {
	return BuildGoWith(ctx, pkg, dir, out, Options{})
}

// Options are the spec's extra go build options (app.build).
type Options struct {
	// Tags are passed as -tags.
	Tags []string
	// LDFlags are appended to GoBuildArgs' -ldflags, so that -X and the
	// like work while the binary stays stripped and reproducible.
	LDFlags string
	// Arch is the image's architecture (GOARCH); default amd64.
	Arch string
}

// args are GoBuildArgs with o applied.
func (o Options) args() []string {
	args := append([]string{}, GoBuildArgs...)
	if o.LDFlags != "" {
		for i, a := range args {
			if v, ok := strings.CutPrefix(a, "-ldflags="); ok {
				args[i] = "-ldflags=" + v + " " + o.LDFlags
			}
		}
	}
	if len(o.Tags) > 0 {
		args = append(args, "-tags="+strings.Join(o.Tags, ","))
	}
	return args
}

// BuildGoWith is BuildGo with the spec's app.build options.
func BuildGoWith(ctx context.Context, pkg, dir, out string, o Options) error {
	workDir, target := dir, pkg
	if isDirPath(pkg) {
		abs := pkg
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(dir, pkg)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return fmt.Errorf("app.go %s: %w; point it at the directory of your main package", pkg, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("app.go %s is not a directory; point it at the directory of your main package, or use app.binary for a prebuilt executable", pkg)
		}
		workDir, target = abs, "."
	}
	args := append(o.args(), "-o", out, target)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = workDir
	cmd.Env = GoEnvArch(arch.MustLookup(o.Arch).Name)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("app.go %s: the go command is not installed or not on PATH: install Go (https://go.dev/dl), or build the app yourself and use app.binary: %w", pkg, err)
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

// CheckBinary makes sure path, the spec's app.binary, is an executable
// an amd64 image can run; errors name the field.
func CheckBinary(path string) error { return CheckBinaryArch(path, arch.MustLookup(arch.Default)) }

// CheckBinaryArch makes sure path, the spec's app.binary, is an
// executable an image of a can run; errors name the field.
func CheckBinaryArch(path string, a arch.Arch) error {
	if err := CheckExecutableArch(path, a); err != nil {
		return fmt.Errorf("app.binary %w", err)
	}
	return nil
}

// CheckExecutable makes sure path is an executable an amd64 image can run.
func CheckExecutable(path string) error {
	return CheckExecutableArch(path, arch.MustLookup(arch.Default))
}

// CheckExecutableArch makes sure path is an executable an image of a can
// run: a static 64-bit ELF for a's machine, since the image has no
// dynamic loader or libc. Errors start with path and end with what to do.
func CheckExecutableArch(path string, a arch.Arch) error {
	f, err := elf.Open(path)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s: not an ELF executable; build it with GOOS=linux GOARCH=%s CGO_ENABLED=0", path, a.Name)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != a.ELFMachine {
		got := f.Machine.String()
		if o, ok := arch.ByELFMachine(f.Machine); ok {
			got = fmt.Sprintf("%s (%s)", o.ELFName, o.Name)
		}
		return fmt.Errorf("%s: built for %s (%s), not %s: the image is %s; build it with GOARCH=%s", path, got, f.Class, a.ELFName, a.Name, a.Name)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("%s: an ELF %s, not an executable; build a program (package main)", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		// The interpreter is only named in the message: a hostile header
		// must not make us allocate much.
		interp := make([]byte, min(p.Filesz, 4096))
		if _, err := p.ReadAt(interp, 0); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: dynamically linked, with an unreadable interpreter path (%v); build it statically (for Go: CGO_ENABLED=0)", path, err)
		}
		interp, _, _ = bytes.Cut(interp, []byte{0})
		return fmt.Errorf("%s: dynamically linked (interpreter %q); the image has no dynamic loader: build it statically (for Go: CGO_ENABLED=0)", path, interp)
	}
	if f.Type == elf.ET_DYN && f.Entry == 0 {
		return fmt.Errorf("%s: a shared library, not an executable; build a program (package main)", path)
	}
	return nil
}
