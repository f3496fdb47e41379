// Package e2e holds end-to-end tests that boot tinyboot images in QEMU,
// and the harness they share.
//
// The harness never skips silently in CI: with CI=true a missing tool
// fails the test, naming the Debian package to install.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/internal/qemu"
)

// Tool names RequireTools knows beyond programs on PATH.
const (
	ToolOVMF = "ovmf"              // an OVMF code+vars pair, as qemu.FindFirmware finds it
	ToolStub = "linuxx64.efi.stub" // the systemd EFI stub UKIs are made from
	// ToolAAVMF is the arm64 UEFI firmware pair, as qemu.FindFirmwareArm64
	// finds it.
	ToolAAVMF = "aavmf"
)

// stubPath is where Debian's systemd-boot-efi installs the EFI stub.
const stubPath = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

// toolPackages names the Debian package that provides each tool.
var toolPackages = map[string]string{
	qemu.DefaultBinary:    "qemu-system-x86",
	ToolOVMF:              "ovmf",
	"qemu-system-aarch64": "qemu-system-arm",
	ToolAAVMF:             "qemu-efi-aarch64",
	ToolStub:              "systemd-boot-efi",
	stubPath:              "systemd-boot-efi",
	"mkfs.btrfs":          "btrfs-progs",
	"mkfs.ext4":           "e2fsprogs",
	"mkfs.vfat":           "dosfstools",
	"blkid":               "util-linux",
	"xorriso":             "xorriso",
	"mcopy":               "mtools",
	"mformat":             "mtools",
	"zstd":                "zstd",
	"cpio":                "cpio",
}

// sbinDirs are searched after PATH: mkfs tools live in /usr/sbin, which
// is not on an ordinary user's PATH on Debian.
var sbinDirs = []string{"/usr/sbin", "/sbin"}

// inCI reports whether CI=true (or any other true value strconv accepts).
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// RequireTools checks that the named tools are installed: programs on
// PATH (or in /usr/sbin), absolute file paths, ToolOVMF and ToolStub.
// When any is missing it fails the test under CI=true and skips it
// otherwise, naming the Debian packages to install.
func RequireTools(t testing.TB, names ...string) {
	t.Helper()
	var missing, pkgs []string
	for _, name := range names {
		if haveTool(name) {
			continue
		}
		missing = append(missing, name)
		if pkg, ok := toolPackages[name]; ok {
			pkgs = append(pkgs, pkg)
		} else {
			pkgs = append(pkgs, "<the package providing "+name+">")
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("missing %s; install with: apt-get install %s",
		strings.Join(missing, ", "), strings.Join(pkgs, " "))
	if inCI() {
		t.Fatalf("%s (CI=true: missing tools fail rather than skip)", msg)
		return
	}
	t.Skipf("%s", msg)
}

func haveTool(name string) bool {
	switch {
	case name == ToolOVMF:
		_, err := qemu.FindFirmware("")
		return err == nil
	case name == ToolAAVMF:
		_, err := qemu.FindFirmwareArm64("")
		return err == nil
	case name == ToolStub:
		return isFile(stubPath)
	case filepath.IsAbs(name):
		return isFile(name)
	}
	if _, err := exec.LookPath(name); err == nil {
		return true
	}
	for _, d := range sbinDirs {
		if isFile(filepath.Join(d, name)) {
			return true
		}
	}
	return false
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// Machine is a VM booted for a test.
type Machine struct {
	VM        *qemu.VM
	LogPath   string // serial console log
	StderrLog string // QEMU's own diagnostics
	t         testing.TB
}

// Boot starts a VM for t with cfg and registers its cleanup: QEMU is
// killed when the test ends, and on failure the whole serial console log
// is printed. The console is logged to a file under t.TempDir() unless
// cfg.ConsoleLog names one. The machine always runs with NoReboot, so a
// guest that reboots ends the test instead of looping. ctx bounds the
// start-up only.
func Boot(t testing.TB, ctx context.Context, cfg qemu.Config) *Machine {
	t.Helper()
	switch {
	case cfg.IsArm64():
		RequireTools(t, "qemu-system-aarch64", ToolAAVMF)
	case cfg.FirmwareKind == qemu.FirmwareUEFI || (cfg.FirmwareKind == "" && cfg.Kernel == ""):
		RequireTools(t, qemu.DefaultBinary, ToolOVMF)
	default:
		RequireTools(t, qemu.DefaultBinary) // SeaBIOS and qboot come with QEMU
	}
	dir := t.TempDir()
	m := &Machine{t: t, LogPath: cfg.ConsoleLog, StderrLog: filepath.Join(dir, "qemu-stderr.log")}
	if m.LogPath == "" {
		m.LogPath = filepath.Join(dir, "console.log")
		cfg.ConsoleLog = m.LogPath
	}
	cfg.NoReboot = true
	stderr, err := os.Create(m.StderrLog)
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	cfg.Stderr = stderr
	start := time.Now()
	vm, err := qemu.Start(ctx, cfg)
	if err != nil {
		stderr.Close()
		t.Fatalf("boot: %v", err)
	}
	m.VM = vm
	t.Logf("booted in %v: %s", time.Since(start).Round(time.Millisecond), qemu.ShellQuote(vm.Args))
	t.Cleanup(func() {
		select {
		case <-vm.Done():
		default:
			vm.Kill()
		}
		e := vm.Wait()
		stderr.Close()
		if t.Failed() {
			t.Logf("machine ended: %v", e)
			if b, err := os.ReadFile(m.StderrLog); err == nil && len(b) > 0 {
				t.Logf("qemu stderr:\n%s", b)
			}
			b, err := os.ReadFile(m.LogPath)
			if err != nil {
				t.Logf("serial console log: %v", err)
				return
			}
			t.Logf("serial console log (%s):\n%s", m.LogPath, stripEscapes(string(b)))
		}
	})
	return m
}

// tail formats the last console lines for a failure message.
func (m *Machine) tail() string {
	lines := m.VM.Console.Tail(30)
	if len(lines) == 0 {
		return "  (no complete line on the serial console)"
	}
	return "  " + stripEscapes(strings.Join(lines, "\n  "))
}

// ansiCSI matches the terminal control sequences firmware and kernels
// print (colours, cursor moves), which would garble test output.
var ansiCSI = regexp.MustCompile(`\x1b\[[0-9;=?]*[A-Za-z]`)

// stripEscapes removes terminal control sequences and carriage returns.
func stripEscapes(s string) string {
	return strings.ReplaceAll(ansiCSI.ReplaceAllString(s, ""), "\r", "")
}

// Expect waits up to timeout (and no longer than ctx) for a serial
// console line matching the regular expression pattern and returns it.
// Successive calls match successive lines. On failure it stops the test
// with the console's last lines. Call it from the test's goroutine.
func (m *Machine) Expect(ctx context.Context, pattern string, timeout time.Duration) string {
	m.t.Helper()
	re, err := regexp.Compile(pattern)
	if err != nil {
		m.t.Fatalf("expect: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	line, err := m.VM.Console.WaitForLine(ctx, re)
	if err != nil {
		why := fmt.Sprintf("within %v", timeout)
		if errors.Is(err, qemu.ErrConsoleClosed) {
			why = fmt.Sprintf("before the machine ended (%v)", m.VM.Wait())
		}
		m.t.Fatalf("no console line matching %q %s; last lines:\n%s", pattern, why, m.tail())
	}
	return line
}

// Powerdown presses the ACPI power button.
func (m *Machine) Powerdown() {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.VM.Powerdown(ctx); err != nil {
		m.t.Fatalf("%v; last lines:\n%s", err, m.tail())
	}
}

// Quit stops QEMU as pulling the plug would and waits for it to exit.
func (m *Machine) Quit() {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.VM.Quit(ctx); err != nil {
		m.t.Fatalf("%v", err)
	}
}

// WaitExit waits up to timeout for the machine to end and says how it
// ended; the test fails with the console's last lines if it does not.
func (m *Machine) WaitExit(timeout time.Duration) qemu.ExitReason {
	m.t.Helper()
	select {
	case <-m.VM.Done():
		return m.VM.Wait().Reason
	case <-time.After(timeout):
		m.t.Fatalf("the machine still runs after %v; last lines:\n%s", timeout, m.tail())
		return ""
	}
}
