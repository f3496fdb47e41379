package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/internal/qemu"
)

// writeISO writes a file that looks like an ISO 9660 image: the primary
// volume descriptor's "CD001" at byte 32769.
func writeISO(t *testing.T, path string) {
	t.Helper()
	b := make([]byte, 34816)
	b[32768] = 1
	copy(b[32769:], "CD001")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIsImage(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	writeISO(t, p("image.bin"))
	for name, data := range map[string]string{
		"a.iso": "", "B.IMG": "", "tinyboot.yaml": "name: x\n", "short": "x",
	} {
		if err := os.WriteFile(p(name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		path    string
		want    bool
		wantErr bool
	}{
		{p("image.bin"), true, false},
		{p("a.iso"), true, false},
		{p("B.IMG"), true, false},
		{p("tinyboot.yaml"), false, false},
		{p("short"), false, false},
		{p("missing.iso"), false, true},
		{dir, false, true},
	}
	for _, tt := range tests {
		got, err := isImage(tt.path)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("isImage(%s) = %v, %v; want %v, err %v", filepath.Base(tt.path), got, err, tt.want, tt.wantErr)
		}
	}
}

// execRun runs `run ARGS...` on a fresh command and returns stdout and
// the exit code main would use.
func execRun(t *testing.T, args ...string) (string, int, error) {
	t.Helper()
	return execCommand(newRunCmd(), args...)
}

func TestRunPrintCmd(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	writeISO(t, p("hello.bin"))
	for _, n := range []string{"OVMF_CODE.fd", "OVMF_VARS.fd", "data.img"} {
		if err := os.WriteFile(p(n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, code, err := execRun(t, p("hello.bin"), "--print-cmd", "--accel", "tcg", "--usb",
		"--firmware", p("OVMF_CODE.fd"), "--memory", "1G", "--cpus", "2",
		"--publish", "8080:80", "--publish", "2222:22", "--disk", p("data.img"), "--no-reboot")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
	want := "qemu-system-x86_64 -machine q35 -accel tcg -m 1G -smp 2 -nodefaults -no-user-config" +
		" -drive if=pflash,format=raw,unit=0,readonly=on,file=" + p("OVMF_CODE.fd") +
		" -drive if=pflash,format=raw,unit=1,snapshot=on,file=" + p("OVMF_VARS.fd") +
		" -device qemu-xhci,id=xhci -drive if=none,id=boot,format=raw,readonly=on,file=" + p("hello.bin") +
		" -device usb-storage,bus=xhci.0,drive=boot,bootindex=0" +
		" -drive if=virtio,format=raw,file=" + p("data.img") +
		" -nic user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp:127.0.0.1:2222-:22" +
		" -device virtio-rng-pci -device pvpanic -display none -serial mon:stdio -no-reboot\n"
	if out != want {
		t.Errorf("printed\n%s\nwant\n%s", out, want)
	}
}

func TestRunUsageErrors(t *testing.T) {
	dir := t.TempDir()
	iso := filepath.Join(dir, "a.iso")
	writeISO(t, iso)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"two media", []string{iso, "--usb", "--raw"}, "none of the others"},
		{"bad publish", []string{iso, "--publish", "80"}, "HOST:GUEST"},
		{"bad accel", []string{iso, "--accel", "xen"}, "accelerator"},
		{"bad memory", []string{iso, "--memory", "lots"}, "memory"},
		{"bad cpus", []string{iso, "--cpus", "0"}, "cpus"},
		{"missing disk", []string{iso, "--disk", filepath.Join(dir, "nope.img")}, "nope.img"},
		{"missing image", []string{filepath.Join(dir, "nope.iso")}, "nope.iso"},
		{"two args", []string{iso, iso}, "accepts at most 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, code, err := execRun(t, append(tt.args, "--print-cmd")...)
			if code != exitUsage || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("exit %d, %v; want %d mentioning %q", code, err, exitUsage, tt.want)
			}
		})
	}
}

func TestRunExitCode(t *testing.T) {
	tests := []struct {
		exit qemu.Exit
		want int
	}{
		{qemu.Exit{Reason: qemu.ExitPoweroff}, 0},
		{qemu.Exit{Reason: qemu.ExitReboot}, 3},
		{qemu.Exit{Reason: qemu.ExitPanic}, 1},
		{qemu.Exit{Reason: qemu.ExitFailed, Err: errors.New("boom")}, 1},
		{qemu.Exit{Reason: qemu.ExitQuit}, 130},
		{qemu.Exit{Reason: qemu.ExitSignal}, 130},
		{qemu.Exit{Reason: qemu.ExitKilled}, 130},
	}
	for _, tt := range tests {
		code, err := runExitCode(tt.exit)
		if code != tt.want || (code == 0) != (err == nil) {
			t.Errorf("runExitCode(%v) = %d, %v; want %d", tt.exit, code, err, tt.want)
		}
	}
}

// TestSuperviseVM boots the firmware alone (which ignores the power
// button) and checks the two-step Ctrl-C.
func TestSuperviseVM(t *testing.T) {
	fw, err := qemu.FindFirmware("")
	if err == nil {
		_, err = qemu.LookPath("")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	for _, tt := range []struct {
		name    string
		signals []os.Signal
		wantMsg []string
	}{
		{"ctrl-c twice", []os.Signal{os.Interrupt, os.Interrupt}, []string{"sent power button", "stopping the VM"}},
		{"sigterm", []os.Signal{syscall.SIGTERM}, []string{"stopping the VM"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			vm, err := qemu.Start(ctx, qemu.Config{Firmware: fw, Accel: qemu.AccelTCG, Memory: "128M", NoNetwork: true})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { vm.Kill(); vm.Wait() }()
			sigs := make(chan os.Signal, len(tt.signals))
			for _, s := range tt.signals {
				sigs <- s
			}
			var stderr bytes.Buffer
			done := make(chan qemu.Exit, 1)
			go func() { done <- superviseVM(vm, sigs, &stderr) }()
			select {
			case e := <-done:
				if code, _ := runExitCode(e); code != exitStopped {
					t.Errorf("exit %v → code %d, want %d", e, code, exitStopped)
				}
			case <-ctx.Done():
				t.Fatal("the VM did not stop")
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(stderr.String(), m) {
					t.Errorf("stderr %q lacks %q", stderr.String(), m)
				}
			}
		})
	}
}
