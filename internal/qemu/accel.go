package qemu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// ErrNoQEMU is returned (wrapped) when the QEMU binary is not installed.
var ErrNoQEMU = errors.New("QEMU not found")

// LookPath finds the QEMU binary name (DefaultBinary when empty), saying
// which package to install when it is missing.
func LookPath(name string) (string, error) {
	if name == "" {
		name = DefaultBinary
	}
	p, err := exec.LookPath(name)
	if err != nil {
		deb, other := qemuPackages(name)
		return "", fmt.Errorf("%w: %s is not installed; install it with `apt-get install %s` "+
			"(Fedora: dnf install %s, Arch: pacman -S %s, macOS: brew install qemu)",
			ErrNoQEMU, name, deb, other, other)
	}
	return p, nil
}

var accelCache struct {
	sync.Mutex
	m map[string]Accel
}

// ResolveAccel turns AccelAuto into a concrete accelerator for the QEMU
// binary at qemuPath and returns any other value unchanged. The answer is
// cached for the life of the process.
//
// A usable /dev/kvm is not enough: in some nested or sandboxed hosts KVM
// initialises but cannot emulate an instruction that reads from ROM, and
// OVMF stops with "KVM internal error" before printing anything. So the
// probe boots a 64 KiB firmware that does exactly that (fldcw from ROM)
// and then exits through isa-debug-exit; only a clean exit counts.
func ResolveAccel(ctx context.Context, qemuPath string, a Accel) (Accel, error) {
	if a != AccelAuto && a != "" {
		return a, nil
	}
	if filepath.Base(qemuPath) == arm64Binary {
		return resolveAccelArm64(a), nil
	}
	accelCache.Lock()
	defer accelCache.Unlock()
	if got, ok := accelCache.m[qemuPath]; ok {
		return got, nil
	}
	got := AccelTCG
	if hw := hardwareAccel(); hw != "" {
		ok, err := probeAccel(ctx, qemuPath, hw)
		if err != nil {
			return "", err
		}
		if ok {
			got = hw
		}
	}
	if accelCache.m == nil {
		accelCache.m = map[string]Accel{}
	}
	accelCache.m[qemuPath] = got
	slog.Debug("qemu accelerator", "qemu", qemuPath, "accel", got)
	return got, nil
}

// hardwareAccel names the host's hardware accelerator worth probing, or ""
// when there is none.
func hardwareAccel() Accel {
	switch runtime.GOOS {
	case "linux":
		f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
		if err != nil {
			return ""
		}
		f.Close()
		return AccelKVM
	case "darwin":
		return AccelHVF
	}
	return ""
}

// hostHardwareAccel is the hardware accelerator this host's OS has: HVF
// on macOS, KVM elsewhere.
func hostHardwareAccel() Accel {
	if runtime.GOOS == "darwin" {
		return AccelHVF
	}
	return AccelKVM
}

// CheckAccelHost says when an accelerator cannot run on this host's OS:
// KVM is Linux's, HVF macOS's. TCG and AccelAuto run everywhere.
func CheckAccelHost(a Accel) error {
	switch {
	case a == AccelKVM && runtime.GOOS == "darwin":
		return fmt.Errorf("accelerator kvm is Linux's; this is macOS: use auto, hvf or tcg")
	case a == AccelKVM && runtime.GOOS != "linux":
		return fmt.Errorf("accelerator kvm is Linux's; this is %s: use auto or tcg", runtime.GOOS)
	case a == AccelHVF && runtime.GOOS != "darwin":
		return fmt.Errorf("accelerator hvf is macOS's Hypervisor.framework; this is %s: use auto, kvm or tcg", runtime.GOOS)
	}
	return nil
}

// probeExitCode is what QEMU exits with when the probe firmware writes
// probeValue to isa-debug-exit: (value << 1) | 1.
const (
	probeValue    = 0x2a
	probeExitCode = probeValue<<1 | 1
)

// probeROM returns a 64 KiB x86 BIOS image. The CPU starts in real mode
// at offset 0xfff0 of the image (CS base 0xffff0000), which jumps to
// 0xff00: fninit; fldcw cs:[0xffe0]; mov al, 0x2a; out 0xf4, al; hlt.
func probeROM() []byte {
	rom := make([]byte, 64<<10)
	for i := range rom {
		rom[i] = 0xf4 // hlt everywhere else
	}
	code := []byte{
		0xdb, 0xe3, // fninit
		0x2e, 0xd9, 0x2e, 0xe0, 0xff, // fldcw cs:[0xffe0]
		0xb0, probeValue, // mov al, probeValue
		0xe6, 0xf4, // out 0xf4, al
		0xf4,       // hlt
		0xeb, 0xfd, // jmp back to hlt
	}
	copy(rom[0xff00:], code)
	rom[0xffe0], rom[0xffe1] = 0x7f, 0x03 // FPU control word 0x037f
	// Reset vector: jmp near 0xff00, relative to the next instruction.
	rel := int16(0xff00 - (0xfff0 + 3))
	copy(rom[0xfff0:], []byte{0xe9, byte(rel), byte(uint16(rel) >> 8)})
	return rom
}

// probeAccel reports whether accel runs the probe firmware to completion.
func probeAccel(ctx context.Context, qemuPath string, accel Accel) (bool, error) {
	dir, err := os.MkdirTemp("", "tbqemu-probe-")
	if err != nil {
		return false, fmt.Errorf("probe %s: %w", accel, err)
	}
	defer os.RemoveAll(dir)
	rom := filepath.Join(dir, "probe.rom")
	if err := os.WriteFile(rom, probeROM(), 0o600); err != nil {
		return false, fmt.Errorf("probe %s: %w", accel, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(pctx, qemuPath,
		"-accel", string(accel), "-machine", "q35", "-m", "16",
		"-nodefaults", "-no-user-config", "-display", "none",
		"-bios", rom, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return false, fmt.Errorf("probe %s: %w", accel, err)
	}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("probe %s: start %s: %w", accel, qemuPath, err)
	}
	var diag strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		diag.WriteString(line + "\n")
		// On an emulation failure QEMU pauses the machine and waits
		// forever; stop it as soon as it says so.
		if strings.Contains(line, "internal error") {
			cancel()
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		return false, fmt.Errorf("probe %s: %w", accel, ctx.Err())
	}
	if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == probeExitCode {
		return true, nil
	}
	slog.Debug("qemu accelerator probe failed", "accel", accel, "err", err, "stderr", diag.String())
	return false, nil
}
