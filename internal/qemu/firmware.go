package qemu

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoFirmware is returned (wrapped) when no OVMF firmware can be found.
var ErrNoFirmware = errors.New("no OVMF (UEFI) firmware found")

// Firmware is an OVMF pflash pair: read-only code and a template for the
// writable variable store.
type Firmware struct {
	Code string // executable image, mapped read-only
	Vars string // NVRAM template; never written, each VM gets a copy
}

// firmwarePair is a candidate location relative to a filesystem root.
type firmwarePair struct{ code, vars string }

// systemFirmware lists where distributions install OVMF, best first. The
// 4 MiB builds come before the 2 MiB ones because newer distributions only
// keep the former working.
var systemFirmware = []firmwarePair{
	// Debian, Ubuntu (package ovmf).
	{"usr/share/OVMF/OVMF_CODE_4M.fd", "usr/share/OVMF/OVMF_VARS_4M.fd"},
	{"usr/share/OVMF/OVMF_CODE.fd", "usr/share/OVMF/OVMF_VARS.fd"},
	// Fedora, RHEL (package edk2-ovmf).
	{"usr/share/edk2/ovmf/OVMF_CODE.fd", "usr/share/edk2/ovmf/OVMF_VARS.fd"},
	// Arch (package edk2-ovmf), current and older layouts.
	{"usr/share/edk2/x64/OVMF_CODE.4m.fd", "usr/share/edk2/x64/OVMF_VARS.4m.fd"},
	{"usr/share/edk2-ovmf/x64/OVMF_CODE.fd", "usr/share/edk2-ovmf/x64/OVMF_VARS.fd"},
}

// brewFirmware is the pair QEMU's own Homebrew formula ships, relative to
// the Homebrew prefix.
var brewFirmware = firmwarePair{"share/qemu/edk2-x86_64-code.fd", "share/qemu/edk2-i386-vars.fd"}

// brewPrefixes returns the Homebrew prefixes to search. Running
// `brew --prefix` costs half a second or more, so this relies on the
// variable `brew shellenv` exports and the two default prefixes instead.
func brewPrefixes() []string {
	var ps []string
	if p := os.Getenv("HOMEBREW_PREFIX"); p != "" {
		ps = append(ps, p)
	}
	return append(ps, "/opt/homebrew", "/usr/local")
}

// FindFirmware locates an OVMF code and vars pair. A non-empty override
// is either "CODE,VARS" or just "CODE", in which case the vars file is
// looked for next to it under the matching name (OVMF_CODE_4M.fd →
// OVMF_VARS_4M.fd, edk2-x86_64-code.fd → edk2-i386-vars.fd).
func FindFirmware(override string) (Firmware, error) {
	return findFirmware("/", brewPrefixes(), override)
}

func findFirmware(root string, brew []string, override string) (Firmware, error) {
	if override != "" {
		return overrideFirmware(override)
	}
	cands := make([]firmwarePair, 0, len(systemFirmware)+len(brew))
	for _, p := range systemFirmware {
		cands = append(cands, firmwarePair{filepath.Join(root, p.code), filepath.Join(root, p.vars)})
	}
	for _, prefix := range brew {
		cands = append(cands, firmwarePair{
			filepath.Join(root, prefix, brewFirmware.code),
			filepath.Join(root, prefix, brewFirmware.vars),
		})
	}
	looked := make([]string, 0, len(cands))
	for _, c := range cands {
		if isFile(c.code) && isFile(c.vars) {
			return Firmware{Code: c.code, Vars: c.vars}, nil
		}
		looked = append(looked, c.code)
	}
	return Firmware{}, fmt.Errorf("%w (looked for %s); install it with `apt-get install ovmf` "+
		"(Fedora: dnf install edk2-ovmf, Arch: pacman -S edk2-ovmf, macOS: brew install qemu) "+
		"or name the files with --firmware CODE,VARS", ErrNoFirmware, strings.Join(looked, ", "))
}

func overrideFirmware(override string) (Firmware, error) {
	code, vars, explicit := strings.Cut(override, ",")
	if !isFile(code) {
		return Firmware{}, fmt.Errorf("firmware code %s: not a readable file", code)
	}
	if explicit {
		if !isFile(vars) {
			return Firmware{}, fmt.Errorf("firmware vars %s: not a readable file", vars)
		}
		return Firmware{Code: code, Vars: vars}, nil
	}
	dir, base := filepath.Split(code)
	for _, name := range varsNames(base) {
		if p := filepath.Join(dir, name); isFile(p) {
			return Firmware{Code: code, Vars: p}, nil
		}
	}
	return Firmware{}, fmt.Errorf("firmware %s: no matching vars file next to it; name it with CODE,VARS", code)
}

// varsNames guesses the vars file names that go with a code file name.
func varsNames(code string) []string {
	var names []string
	if code == "edk2-x86_64-code.fd" {
		names = append(names, "edk2-i386-vars.fd")
	}
	for _, r := range [][2]string{{"CODE", "VARS"}, {"code", "vars"}} {
		if n := strings.Replace(code, r[0], r[1], 1); n != code {
			names = append(names, n)
		}
	}
	return names
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// copyVars copies the vars template into dir so the VM can write its NVRAM
// without touching the system copy.
func (f Firmware) copyVars(dir string) (string, error) {
	src, err := os.Open(f.Vars)
	if err != nil {
		return "", fmt.Errorf("open firmware vars: %w", err)
	}
	defer src.Close()
	dst := filepath.Join(dir, "OVMF_VARS.fd")
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("copy firmware vars: %w", err)
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return "", fmt.Errorf("copy firmware vars: %w", err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("copy firmware vars: %w", err)
	}
	return dst, nil
}
