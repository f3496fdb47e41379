package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/internal/bootdisk"
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

func TestDetectTarget(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	writeISO(t, p("image.bin"))
	for name, data := range map[string]string{
		"a.iso": "", "B.IMG": "", "disk.raw": "", "hello.efi": "", "hello.tar.gz": "", "h.tgz": "",
		"tinyboot.yaml": "name: x\n", "spec": "name: x\n", "short": "x",
		"pe.bin": "MZ\x90\x00", "gz.bin": "\x1f\x8b\x08\x00",
		"k/vmlinuz": "x", "k/initrd.img": "x", "k/cmdline": "console=ttyS0\n",
		"half/vmlinuz": "x", "half/cmdline": "x\n",
	} {
		os.MkdirAll(filepath.Dir(p(name)), 0o755)
		if err := os.WriteFile(p(name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		path    string
		want    targetKind
		wantErr string
	}{
		{p("image.bin"), targetISO, ""},
		{p("a.iso"), targetISO, ""},
		{p("B.IMG"), targetRaw, ""},
		{p("disk.raw"), targetRaw, ""},
		{p("hello.efi"), targetUKI, ""},
		{p("pe.bin"), targetUKI, ""},
		{p("hello.tar.gz"), targetGCE, ""},
		{p("h.tgz"), targetGCE, ""},
		{p("gz.bin"), targetGCE, ""},
		{p("k"), targetKernel, ""},
		{p("tinyboot.yaml"), targetSpec, ""},
		{p("spec"), targetSpec, ""},
		{p("short"), targetSpec, ""},
		{p("half"), "", "has no initrd.img"},
		{p("missing.iso"), "", "no such file"},
	}
	for _, tt := range tests {
		got, err := detectTarget(tt.path)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("detectTarget(%s) = %v, %v; want an error mentioning %q", filepath.Base(tt.path), got, err, tt.wantErr)
			}
			continue
		}
		if got != tt.want || err != nil {
			t.Errorf("detectTarget(%s) = %v, %v; want %v", filepath.Base(tt.path), got, err, tt.want)
		}
	}
}

// execRun runs `run ARGS...` on a fresh command and returns stdout and
// the exit code main would use.
func execRun(t *testing.T, args ...string) (string, int, error) {
	t.Helper()
	return execCommand(newRunCmd(), args...)
}

// runFixtures makes a file of every format --print-cmd can take, and
// OVMF files to name with --firmware.
func runFixtures(t *testing.T) func(string) string {
	t.Helper()
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	writeISO(t, p("hello.iso"))
	for n, data := range map[string]string{
		"OVMF_CODE.fd": "x", "OVMF_VARS.fd": "x", "data.img": "x", "hello.img": "x",
		"hello.efi":            "MZ" + strings.Repeat("\x00", 510),
		"hello-kernel/vmlinuz": "x", "hello-kernel/initrd.img": "x",
		"hello-kernel/cmdline": "console=ttyS0 panic=-1\n",
	} {
		os.MkdirAll(filepath.Dir(p(n)), 0o755)
		if err := os.WriteFile(p(n), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeGCE(t, p("hello.tar.gz"), []byte("disk"))
	return p
}

// writeGCE writes a GCE image archive holding disk.raw with data.
func writeGCE(t *testing.T, path string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: bootdisk.GCEDiskName, Mode: 0o644, Size: int64(len(data)), Format: tar.FormatGNU}); err != nil {
		t.Fatal(err)
	}
	tw.Write(data)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunPrintCmd(t *testing.T) {
	p := runFixtures(t)
	base := "qemu-system-x86_64 -machine q35 -accel tcg -m 512M -smp 1 -nodefaults -no-user-config"
	ovmf := " -drive if=pflash,format=raw,unit=0,readonly=on,file=" + p("OVMF_CODE.fd") +
		" -drive if=pflash,format=raw,unit=1,snapshot=on,file=" + p("OVMF_VARS.fd")
	nic := " -nic user,model=virtio-net-pci"
	tail := " -device virtio-rng-pci -device pvpanic -display none -serial mon:stdio\n"
	fw := []string{"--firmware", p("OVMF_CODE.fd")}
	tests := []struct {
		name string
		args []string
		want string // "TMP" stands for the kept temporary directory
	}{
		{"iso under OVMF, every flag",
			append([]string{p("hello.iso"), "--usb", "--memory", "1G", "--cpus", "2", "--publish", "8080:80",
				"--publish", "0.0.0.0:1053:53/udp", "--disk", p("data.img"), "--no-reboot"}, fw...),
			"qemu-system-x86_64 -machine q35 -accel tcg -m 1G -smp 2 -nodefaults -no-user-config" + ovmf +
				" -device qemu-xhci,id=xhci -drive if=none,id=boot,format=raw,readonly=on,file=" + p("hello.iso") +
				" -device usb-storage,bus=xhci.0,drive=boot,bootindex=0" +
				" -drive if=virtio,format=raw,file=" + p("data.img") +
				" -nic user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0.0.0:1053-:53" +
				" -device virtio-rng-pci -device pvpanic -display none -serial mon:stdio -no-reboot\n"},
		{"iso under SeaBIOS", []string{p("hello.iso"), "--firmware", "bios"},
			base + " -drive if=none,id=boot,format=raw,readonly=on,file=" + p("hello.iso") + ",media=cdrom" +
				" -device ide-cd,drive=boot,bus=ide.1,bootindex=0" + nic + tail},
		{"raw image: a virtio disk", append([]string{p("hello.img")}, fw...),
			base + ovmf + " -drive if=none,id=boot,format=raw,readonly=on,file=" + p("hello.img") +
				" -device virtio-blk-pci,drive=boot,bootindex=0" + nic + tail},
		{"raw image under SeaBIOS", []string{p("hello.img"), "--firmware", "bios"},
			base + " -drive if=none,id=boot,format=raw,readonly=on,file=" + p("hello.img") +
				" -device virtio-blk-pci,drive=boot,bootindex=0" + nic + tail},
		{"uki from a throwaway ESP", append([]string{p("hello.efi")}, fw...),
			base + ovmf + " -drive if=none,id=boot,format=raw,readonly=on,file=TMP/esp.img" +
				" -device virtio-blk-pci,drive=boot,bootindex=0" + nic + tail},
		{"gce archive on virtio-scsi", append([]string{p("hello.tar.gz")}, fw...),
			base + ovmf + " -device virtio-scsi-pci,id=scsi -drive if=none,id=boot,format=raw,readonly=on,file=TMP/disk.raw" +
				" -device scsi-hd,drive=boot,bus=scsi.0,bootindex=0" + nic + tail},
		{"kernel directly", []string{p("hello-kernel")},
			base + " -kernel " + p("hello-kernel/vmlinuz") + " -initrd " + p("hello-kernel/initrd.img") +
				" -append 'console=ttyS0 panic=-1'" + nic + tail},
		{"kernel under OVMF", append([]string{p("hello-kernel")}, fw...),
			base + ovmf + " -kernel " + p("hello-kernel/vmlinuz") + " -initrd " + p("hello-kernel/initrd.img") +
				" -append 'console=ttyS0 panic=-1'" + nic + tail},
		{"kernel on microvm", []string{p("hello-kernel"), "--machine", "microvm", "--publish", "8080:80", "--disk", p("data.img")},
			"qemu-system-x86_64 -machine microvm -accel tcg -m 512M -smp 1 -nodefaults -no-user-config" +
				" -kernel " + p("hello-kernel/vmlinuz") + " -initrd " + p("hello-kernel/initrd.img") +
				" -append 'console=ttyS0 panic=-1 reboot=t tsc_early_khz=TSC'" +
				" -drive if=none,id=disk0,format=raw,file=" + p("data.img") + " -device virtio-blk-device,drive=disk0" +
				" -netdev user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80 -device virtio-net-device,netdev=net0" +
				" -device virtio-rng-device -device pvpanic -device i8042 -display none -serial mon:stdio\n"},
	}
	tmpRE := regexp.MustCompile(`kept in (\S+);`)
	tscRE := regexp.MustCompile(`tsc_early_khz=\d+`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := newRunCmd()
			cmd.SetErr(&stderr)
			out, code, err := execCommand(cmd, append(tt.args, "--print-cmd", "--accel", "tcg")...)
			if code != 0 {
				t.Fatalf("exit %d: %v", code, err)
			}
			want := tt.want
			if m := tmpRE.FindStringSubmatch(stderr.String()); m != nil {
				want = strings.ReplaceAll(want, "TMP", m[1])
				t.Cleanup(func() { os.RemoveAll(m[1]) })
			} else if strings.Contains(want, "TMP") {
				t.Fatalf("stderr %q does not say where the temporary disk is kept", stderr.String())
			}
			out = tscRE.ReplaceAllString(out, "tsc_early_khz=TSC")
			if !strings.Contains(want, "tsc_early_khz") {
				out = strings.ReplaceAll(out, " tsc_early_khz=TSC", "")
			}
			if out != want {
				t.Errorf("printed\n%s\nwant\n%s", out, want)
			}
		})
	}
}

func TestRunUsageErrors(t *testing.T) {
	p := runFixtures(t)
	iso, kernel, uki := p("hello.iso"), p("hello-kernel"), p("hello.efi")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"two media", []string{iso, "--usb", "--raw"}, "none of the others"},
		{"bad publish", []string{iso, "--publish", "80"}, "HOST:GUEST"},
		{"publish protocol first", []string{iso, "--publish", "udp:1053:1053"}, "the protocol goes last: 1053:1053/udp"},
		{"bad accel", []string{iso, "--accel", "xen"}, "accelerator"},
		{"bad machine", []string{iso, "--machine", "pc"}, "want q35, microvm or virt"},
		{"bad memory", []string{iso, "--memory", "lots"}, "memory"},
		{"bad cpus", []string{iso, "--cpus", "0"}, "cpus"},
		{"missing disk", []string{iso, "--disk", p("nope.img")}, "nope.img"},
		{"missing image", []string{p("nope.iso")}, "nope.iso"},
		{"two args", []string{iso, iso}, "accepts at most 1 arg"},
		{"microvm and iso", []string{iso, "--machine", "microvm"}, "--machine microvm boots the kernel format only"},
		{"microvm and uefi", []string{kernel, "--machine", "microvm", "--firmware", "uefi"}, "microvm has no UEFI firmware"},
		{"bios and uki", []string{uki, "--firmware", "bios"}, "cannot start a UKI"},
		{"none and iso", []string{iso, "--firmware", "none"}, "--firmware none is direct kernel boot"},
		{"medium and kernel", []string{kernel, "--usb"}, "--usb attaches an image"},
		{"secure boot and bios", []string{iso, "--firmware", "bios", "--secure-boot", p("keys")}, "none of the others"},
		{"not a kernel dir", []string{filepath.Dir(iso)}, "has no vmlinuz"},
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

// TestRunPortTaken runs a machine whose --publish host port another
// program holds: run says which port and which --publish, and QEMU is
// never started (no "qmp handshake" error, no QEMU message twice).
func TestRunPortTaken(t *testing.T) {
	p := runFixtures(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	var stderr bytes.Buffer
	cmd := newRunCmd()
	cmd.SetErr(&stderr)
	_, code, err := execCommand(cmd, p("hello.iso"), "--firmware", p("OVMF_CODE.fd"), "--accel", "tcg",
		"--publish", fmt.Sprintf("%d:80", port))
	want := fmt.Sprintf("--publish %d:80: host port already in use: 127.0.0.1:%d/tcp is taken by another program", port, port)
	if code != exitInvalid || err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "qmp") {
		t.Errorf("exit %d, %v; want %d with %q", code, err, exitInvalid, want)
	}
	if strings.Contains(stderr.String(), "Could not set up") {
		t.Errorf("QEMU's own message reached stderr: %q", stderr.String())
	}
}

func TestConsoleWatch(t *testing.T) {
	tests := []struct {
		name     string
		noReboot bool
		console  string
		wantUp   bool
		wantMsg  string
		wantApp  string
	}{
		{"firmware only", false, "BdsDxe: loading Boot0001\r\n[    0.1] Linux\n", false, "", ""},
		{"agent up", false, "tinyboot: [     0.412] setup: mounted filesystems in 3ms\n", true, "", ""},
		{"app exits, reboot", false,
			"tinyboot: [     2.000] app: started /bin/hello (pid 80)\ntinyboot: [     2.100] app: exited with status 1\n" +
				"tinyboot: [     2.100] shutdown: app ended (on_exit reboot)\ntinyboot: [     2.300] shutdown: rebooting\n",
			false, "tbcompose: app exited with status 1; the guest reboots: --no-reboot stops here\n", "app exited with status 1"},
		{"app exits under --no-reboot", true,
			"tinyboot: [     2.100] app: killed by signal 9\ntinyboot: [     2.100] shutdown: app ended (on_exit reboot)\n",
			false, "", "app killed by signal 9"},
		// The agent's first shutdown line already means nothing answers the
		// power button: a Ctrl-C right after the explanation must not be
		// taken for a press.
		{"shutdown begins", false,
			"tinyboot: [     2.100] app: exited with status 0\ntinyboot: [     2.100] shutdown: app ended (on_exit reboot)\ntinyboot: [     2.110] qga: port closed\n",
			false, "tbcompose: app exited with status 0; the guest reboots: --no-reboot stops here\n", "app exited with status 0"},
		{"up again after a reboot", false,
			"tinyboot: [     2.300] shutdown: rebooting\n[    0.1] Linux\ntinyboot: [     0.412] setup: mounted filesystems in 3ms\n",
			true, "", ""},
		{"unterminated line", false, "tinyboot: [     1.0", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			w := newConsoleWatch(&stderr, tt.noReboot)
			con := qemu.NewConsole(nil)
			// One byte at a time: lines cross writes.
			for i := range len(tt.console) {
				con.Write([]byte{tt.console[i]})
			}
			con.Close()
			w.follow(con)
			if w.AgentUp() != tt.wantUp || stderr.String() != tt.wantMsg || w.lastAppExit() != tt.wantApp {
				t.Errorf("up %v, stderr %q, app %q; want %v, %q, %q", w.AgentUp(), stderr.String(), w.lastAppExit(), tt.wantUp, tt.wantMsg, tt.wantApp)
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
		agentUp bool
		signals []os.Signal
		wantMsg []string
	}{
		{"ctrl-c twice", true, []os.Signal{os.Interrupt, os.Interrupt}, []string{"sent power button", "stopping the VM"}},
		{"ctrl-c in firmware", false, []os.Signal{os.Interrupt}, []string{"agent is not up yet", "stopping the VM"}},
		{"sigterm", true, []os.Signal{syscall.SIGTERM}, []string{"stopping the VM"}},
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
			go func() { done <- superviseVM(vm, sigs, &stderr, func() bool { return tt.agentUp }) }()
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

// TestSpecBootFormat: run boots the output of a spec that suits the
// machine, and says what to add when the spec has none.
func TestSpecBootFormat(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		formats, machine, firmware string
		want, wantErr              string
	}{
		{"", "q35", "", "iso", ""},
		{"[kernel]", "q35", "", "kernel", ""},
		{"[kernel, uki]", "q35", "", "uki", ""},
		{"[gce, raw]", "q35", "", "raw", ""},
		{"[iso, kernel]", "microvm", "", "kernel", ""},
		{"[iso, kernel]", "q35", "none", "kernel", ""},
		{"[iso]", "microvm", "", "", "add kernel to formats"},
		{"[containerdisk]", "q35", "", "", "none of the spec's formats (containerdisk) boots here"},
	}
	for i, tt := range tests {
		path := filepath.Join(dir, fmt.Sprintf("s%d.yaml", i))
		text := "name: hello\napp: {go: ./hello}\nkernel: {package: linux-image-amd64}\n"
		if tt.formats != "" {
			text += "formats: " + tt.formats + "\n"
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		o := &runOptions{machine: tt.machine, firmware: tt.firmware}
		got, err := o.specBootFormat(path)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("formats %s on %s: got %q, %v; want an error mentioning %q", tt.formats, tt.machine, got, err, tt.wantErr)
			}
			continue
		}
		if got != tt.want || err != nil {
			t.Errorf("formats %s on %s --firmware %q: got %q, %v; want %q", tt.formats, tt.machine, tt.firmware, got, err, tt.want)
		}
	}
}
