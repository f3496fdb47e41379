package qemu

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needQEMU skips a test that runs QEMU when it is not installed, except
// under CI=true, where missing tools must fail rather than hide tests.
func needQEMU(t *testing.T) (qemuPath string, fw Firmware) {
	t.Helper()
	p, err := LookPath("")
	if err == nil {
		fw, err = FindFirmware("")
	}
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return p, fw
}

func TestProbeROM(t *testing.T) {
	rom := probeROM()
	if len(rom) != 64<<10 {
		t.Fatalf("ROM is %d bytes; QEMU wants a multiple of 64 KiB", len(rom))
	}
	// The reset vector's near jump must land on the probe code.
	if rom[0xfff0] != 0xe9 {
		t.Fatalf("reset vector opcode %#x, want jmp near", rom[0xfff0])
	}
	target := uint16(0xfff3) + binary.LittleEndian.Uint16(rom[0xfff1:])
	if target != 0xff00 || rom[0xff00] != 0xdb || rom[0xff01] != 0xe3 {
		t.Fatalf("reset vector jumps to %#x (% x), want fninit at 0xff00", target, rom[target:target+2])
	}
}

func TestProbeAccel(t *testing.T) {
	qemuPath, _ := needQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// TCG always works, so the probe firmware must exit cleanly under it;
	// otherwise the probe would declare every accelerator broken.
	ok, err := probeAccel(ctx, qemuPath, AccelTCG)
	if err != nil || !ok {
		t.Fatalf("probe under TCG = %v, %v; want true", ok, err)
	}
	got, err := ResolveAccel(ctx, qemuPath, AccelAuto)
	if err != nil || (got != AccelKVM && got != AccelTCG && got != AccelHVF) {
		t.Fatalf("ResolveAccel = %q, %v", got, err)
	}
	t.Logf("auto accelerator here: %s", got)
	// Cached: a second answer comes without running QEMU.
	start := time.Now()
	again, err := ResolveAccel(ctx, qemuPath, AccelAuto)
	if err != nil || again != got || time.Since(start) > 10*time.Millisecond {
		t.Errorf("second ResolveAccel = %q, %v after %v", again, err, time.Since(start))
	}
	if got, _ := ResolveAccel(ctx, qemuPath, AccelTCG); got != AccelTCG {
		t.Errorf("explicit tcg resolved to %q", got)
	}
}

func TestLookPathMissing(t *testing.T) {
	_, err := LookPath("qemu-system-does-not-exist")
	if !errors.Is(err, ErrNoQEMU) || !strings.Contains(err.Error(), "apt-get install qemu-system-x86") {
		t.Fatalf("err = %v, want ErrNoQEMU naming the package", err)
	}
}
