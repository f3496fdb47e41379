package esp

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cavaliergopher/cpio"

	"github.com/tinyboot/tinyboot/compose/uki"
)

// The boot test builds a UKI from the Debian kernel and the systemd stub,
// puts it in an ESP and boots that in QEMU with OVMF. It takes tens of
// seconds under TCG, so it only runs with TINYBOOT_BOOTTEST=1.

const (
	ovmfCode   = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	ovmfVars   = "/usr/share/OVMF/OVMF_VARS_4M.fd"
	systemdEFI = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"
	kernelDebs = "/var/cache/tbk/linux-image-*-amd64_*.deb"
)

// initSource is /init: it proves it ran by printing UKI-OK on the console,
// then powers off so QEMU exits.
const initSource = `package main

import (
	"os"
	"syscall"
)

func main() {
	// The initramfs has no /dev/console, so the kernel gave us no stdout.
	_ = os.Mkdir("/dev", 0o755)
	_ = syscall.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
	if c, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		c.WriteString("UKI-OK\n")
		c.Close()
	}
	syscall.Sync()
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
}
`

func TestBootUKI(t *testing.T) {
	if os.Getenv("TINYBOOT_BOOTTEST") != "1" {
		t.Skip("set TINYBOOT_BOOTTEST=1 to boot a UKI in QEMU")
	}
	for _, tool := range []string{"qemu-system-x86_64", "dpkg-deb", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("boot test needs %s: %v", tool, err)
		}
	}
	stub, err := os.ReadFile(systemdEFI)
	if err != nil {
		t.Fatalf("read systemd stub: %v", err)
	}
	dir := t.TempDir()
	kernel := extractKernel(t)
	initrd := makeInitrd(t, dir)

	var image bytes.Buffer
	if _, err := uki.Build(&image, stub, []uki.Section{
		uki.Bytes(uki.SectionOSRel, []byte("ID=tinyboot\nNAME=tinyboot\n")),
		uki.Bytes(uki.SectionCmdline, []byte("console=ttyS0 panic=-1")),
		uki.Bytes(uki.SectionLinux, kernel),
		uki.Bytes(uki.SectionInitrd, initrd),
	}); err != nil {
		t.Fatalf("build UKI: %v", err)
	}
	t.Logf("UKI: %d bytes (kernel %d, initrd %d)", image.Len(), len(kernel), len(initrd))

	for _, tc := range []struct {
		name  string
		types []int
	}{
		{"smallest", nil}, // whatever planLayout picks: FAT12 for any real UKI
		{"FAT16", []int{16}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.types != nil {
				saved := fatTypes
				fatTypes = tc.types
				defer func() { fatTypes = saved }()
			}
			espPath := filepath.Join(t.TempDir(), "esp.img")
			f, err := os.Create(espPath)
			if err != nil {
				t.Fatal(err)
			}
			n, err := Build(f, []File{{Path: bootPath, Data: bytes.NewReader(image.Bytes()), Size: int64(image.Len())}}, testTime)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatalf("build ESP: %v", err)
			}
			t.Logf("ESP: %d bytes", n)
			fsck(t, espPath)
			bootQEMU(t, espPath)
		})
	}
}

// extractKernel returns vmlinuz from the Debian kernel package.
func extractKernel(t *testing.T) []byte {
	debs, _ := filepath.Glob(kernelDebs)
	if len(debs) == 0 {
		t.Fatalf("no kernel package matching %s", kernelDebs)
	}
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", debs[0])
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("dpkg-deb: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no boot/vmlinuz-* in %s: %v", debs[0], err)
		}
		if strings.HasPrefix(h.Name, "./boot/vmlinuz-") {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("read %s: %v", h.Name, err)
			}
			return b
		}
	}
}

// makeInitrd builds a newc initramfs holding a static /init.
func makeInitrd(t *testing.T, dir string) []byte {
	src := filepath.Join(dir, "init.go")
	if err := os.WriteFile(src, []byte(initSource), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "init")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build init: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	if err := w.WriteHeader(&cpio.Header{Name: "init", Mode: cpio.TypeReg | 0o755, Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bootQEMU boots the ESP image as a raw virtio disk under OVMF and checks
// the serial console shows UKI-OK.
func bootQEMU(t *testing.T, espPath string) {
	vars := filepath.Join(t.TempDir(), "OVMF_VARS.fd")
	b, err := os.ReadFile(ovmfVars)
	if err != nil {
		t.Fatalf("read OVMF vars: %v", err)
	}
	if err := os.WriteFile(vars, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64",
		"-accel", "tcg", "-machine", "q35", "-m", "512", "-nographic", "-no-reboot",
		"-drive", "if=pflash,format=raw,readonly=on,file="+ovmfCode,
		"-drive", "if=pflash,format=raw,file="+vars,
		"-drive", "file="+espPath+",format=raw,if=virtio")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	elapsed := time.Since(start)
	console := out.String()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("QEMU did not power off within %v; console:\n%s", elapsed, tail(console))
	}
	if err != nil {
		t.Errorf("QEMU: %v", err)
	}
	if !strings.Contains(console, "UKI-OK") {
		t.Fatalf("no UKI-OK on the console after %v:\n%s", elapsed, tail(console))
	}
	// The kernel's last timestamp before UKI-OK splits the wall time into
	// firmware+stub and kernel.
	kernelTime := "?"
	if m := kernelStamp.FindAllStringSubmatch(console[:strings.Index(console, "UKI-OK")], -1); m != nil {
		kernelTime = m[len(m)-1][1] + "s"
	}
	t.Logf("booted to UKI-OK and powered off in %v (kernel clock at /init: %s)",
		elapsed.Round(100*time.Millisecond), kernelTime)
}

var kernelStamp = regexp.MustCompile(`\[\s*(\d+\.\d+)\]`)

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}
