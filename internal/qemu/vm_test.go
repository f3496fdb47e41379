package qemu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// testConfig is a machine with a 1 MiB blank boot image on medium; the
// firmware finds nothing to boot, which is all these tests need.
func testConfig(t *testing.T, medium Medium) Config {
	t.Helper()
	_, fw := needQEMU(t)
	dir := t.TempDir()
	img, disk := filepath.Join(dir, "blank.img"), filepath.Join(dir, "disk.img")
	for _, p := range []string{img, disk} {
		if err := os.WriteFile(p, make([]byte, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Config{
		Firmware: fw, Image: img, Medium: medium, Accel: AccelTCG,
		Memory: "128M", NoNetwork: true, NoReboot: true,
		Disks: []string{disk},
	}
}

func startVM(t *testing.T, cfg Config) *VM {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vm, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		vm.Kill()
		vm.Wait()
	})
	return vm
}

// TestStartQuit boots each medium and quits it: QEMU accepts every
// command line BuildArgs makes and reports the quit.
func TestStartQuit(t *testing.T) {
	for _, m := range []Medium{MediumCDROM, MediumUSB, MediumRaw} {
		t.Run(string(m), func(t *testing.T) {
			cfg := testConfig(t, m)
			sum := fileSum(t, cfg.Firmware.Vars)
			vm := startVM(t, cfg)
			tmp := vmDir(t, vm)
			if _, err := os.Stat(filepath.Join(tmp, "OVMF_VARS.fd")); err != nil {
				t.Errorf("per-VM vars copy: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := vm.Quit(ctx); err != nil {
				t.Fatal(err)
			}
			e := vm.Wait()
			if e.Reason != ExitQuit || e.Cause != "host-qmp-quit" || e.Code != 0 {
				t.Errorf("exit = %v, want quit", e)
			}
			if _, err := os.Stat(tmp); !os.IsNotExist(err) {
				t.Errorf("temp dir %s left behind: %v", tmp, err)
			}
			if fileSum(t, cfg.Firmware.Vars) != sum {
				t.Error("the system vars file changed")
			}
		})
	}
}

func TestResetUnderNoReboot(t *testing.T) {
	vm := startVM(t, testConfig(t, MediumCDROM))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := vm.QMP().Execute(ctx, "system_reset", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-vm.Done():
	case <-ctx.Done():
		t.Fatal("QEMU did not exit on reset under -no-reboot")
	}
	if e := vm.Wait(); e.Reason != ExitReboot {
		t.Errorf("exit = %v, want reboot", e)
	}
}

func TestKill(t *testing.T) {
	vm := startVM(t, testConfig(t, MediumCDROM))
	if err := vm.Kill(); err != nil {
		t.Fatal(err)
	}
	if e := vm.Wait(); e.Reason != ExitKilled || e.Code != -1 {
		t.Errorf("exit = %v, want killed", e)
	}
	// The connection is gone; QMP commands fail rather than hang.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := vm.Powerdown(ctx); err == nil {
		t.Error("Powerdown on a dead machine succeeded")
	}
}

// TestConsoleAndLog boots the firmware far enough to print on the serial
// console and checks the tees.
func TestConsoleAndLog(t *testing.T) {
	if testing.Short() {
		t.Skip("boots firmware")
	}
	cfg := testConfig(t, MediumCDROM)
	var out bytes.Buffer
	cfg.Console = &out // read only after Wait
	cfg.ConsoleLog = filepath.Join(t.TempDir(), "console.log")
	vm := startVM(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	line, err := vm.Console.WaitForLine(ctx, regexp.MustCompile(`BdsDxe`))
	if err != nil {
		t.Fatalf("%v; console so far: %q", err, vm.Console.Tail(20))
	}
	vm.Quit(ctx)
	vm.Wait()
	log, err := os.ReadFile(cfg.ConsoleLog)
	if err != nil || !bytes.Contains(log, []byte(line)) {
		t.Errorf("console log lacks %q (%v)", line, err)
	}
	if !bytes.Contains(out.Bytes(), []byte(line)) {
		t.Errorf("console writer lacks %q", line)
	}
}

func TestStartFails(t *testing.T) {
	cfg := testConfig(t, MediumCDROM)
	cfg.ExtraArgs = []string{"-device", "no-such-device"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Start(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "no-such-device") {
		t.Fatalf("err = %v, want QEMU's complaint about the device", err)
	}
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// vmDir returns the machine's private directory, where its QMP socket is.
func vmDir(t *testing.T, vm *VM) string {
	t.Helper()
	i := slices.Index(vm.Args, "-qmp")
	if i < 0 || i+1 >= len(vm.Args) {
		t.Fatalf("no -qmp in %q", vm.Args)
	}
	return filepath.Dir(strings.TrimPrefix(vm.Args[i+1], "unix:"))
}

// TestStartPortTaken starts QEMU with a forward whose host port another
// program holds: the error says so, without the broken QMP handshake
// QEMU's exit leaves behind.
func TestStartPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(t, MediumCDROM)
	cfg.NoNetwork = false
	cfg.Publish = []PortForward{{Host: uint16(ln.Addr().(*net.TCPAddr).Port), Guest: 80}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vm, err := Start(ctx, cfg)
	if err == nil {
		vm.Kill()
		vm.Wait()
		t.Fatal("Start succeeded with the host port taken")
	}
	if !errors.Is(err, ErrPortInUse) || strings.Contains(err.Error(), "handshake") {
		t.Fatalf("err = %v, want ErrPortInUse without the QMP handshake", err)
	}
	t.Logf("error: %v", err)
}
