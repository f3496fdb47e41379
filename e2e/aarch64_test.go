package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/internal/arch"
	"github.com/tinyboot/tinyboot/internal/qemu"
	"github.com/tinyboot/tinyboot/internal/testcache"
	"github.com/tinyboot/tinyboot/spec"
)

// arm64Pin is the arm64 kernel the run's arm64 images boot, resolved once.
var arm64Pin struct {
	once sync.Once
	pkgs []kernel.Package
	err  error
}

// arm64KernelPackages resolves Debian's arm64 kernel meta package once
// per test binary, like exampleLock does for amd64: every arm64 image of
// the run boots the same kernel, whatever the archive serves later.
func arm64KernelPackages(t testing.TB) []kernel.Package {
	t.Helper()
	arm64Pin.once.Do(func() {
		a, err := compose.NewArchiveClient(nil, compose.Options{CacheDir: testcache.Dir()})
		if err != nil {
			arm64Pin.err = err
			return
		}
		r := &kernel.Resolver{CacheDir: testcache.Dir(), Archive: a, Arch: "arm64"}
		k, err := r.Package(context.Background(), arch.MustLookup("arm64").KernelPackage, nil)
		if err != nil {
			arm64Pin.err = err
			return
		}
		arm64Pin.pkgs = k.Packages
	})
	if arm64Pin.err != nil {
		t.Fatalf("resolve the arm64 kernel: %v", arm64Pin.err)
	}
	return arm64Pin.pkgs
}

// buildExampleArm64 builds examples/tinyboot.yaml for arm64 in the iso
// and kernel formats, as `tbcompose build --arch arm64 --format iso,kernel
// --locked` would with the run's arm64 pin, and returns each format's
// output.
func buildExampleArm64(t *testing.T) map[string]string {
	t.Helper()
	RequireTools(t, ToolStub)
	path, err := filepath.Abs(filepath.Join("..", "examples", "tinyboot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.Parse(path, text)
	if diags.HasErrors() {
		t.Fatalf("examples/tinyboot.yaml is not valid: %v", diags)
	}
	s.Arch = spec.Arches{"arm64"}
	lockPath := filepath.Join(t.TempDir(), compose.LockName)
	lock := &compose.Lock{Version: compose.LockVersion, Kernel: s.Kernel.Package, Packages: arm64KernelPackages(t)}
	if err := compose.WriteLock(lockPath, lock); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildWait)
	defer cancel()
	start := time.Now()
	res, err := compose.Build(ctx, s.WithDefaults(), compose.Options{
		Output:  filepath.Join(workDir, "example-arm64"),
		Formats: []string{spec.FormatISO, spec.FormatKernel},
		Lock:    compose.LockOptions{Path: lockPath, Mode: compose.LockFrozen},
	})
	if err != nil {
		t.Fatalf("build the example for arm64: %v", err)
	}
	if res.Arch != "arm64" {
		t.Fatalf("built a %s image, want arm64", res.Arch)
	}
	t.Logf("built the arm64 example (ISO %d KiB) in %v", res.Size>>10, time.Since(start).Round(time.Millisecond))
	outs := map[string]string{}
	for _, f := range []string{spec.FormatISO, spec.FormatKernel} {
		outs[f] = filepath.Join(workDir, "example-arm64", compose.OutputName(s.Name, f))
	}
	return outs
}

// TestArm64Example builds the example for arm64 and boots it under
// qemu-system-aarch64 (emulated on an amd64 host) on the virt machine:
// with the arm64 UEFI firmware from the ISO as a CD on virtio-scsi, the
// app answers HTTP through a forwarded port and serves the /iso payload,
// the power button ends in a clean power-off; then from the same ISO as a
// raw virtio disk, and then the kernel format with -kernel (no firmware,
// so no /iso), the btrfs /persistent boot counter has survived each
// power-off.
func TestArm64Example(t *testing.T) {
	timeScenario(t)
	outs := buildExampleArm64(t)
	img := outs[spec.FormatISO]
	kdir := outs[spec.FormatKernel]
	cmdline, err := os.ReadFile(filepath.Join(kdir, "cmdline"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "examples", "www", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	disk := newDisk(t, spec.FSBtrfs, spec.DefaultLabel)
	for i, tt := range []struct {
		name string
		cfg  qemu.Config
		iso  string // the device /iso is mounted from; "" for none
	}{
		{"cdrom", qemu.Config{Image: img, Medium: qemu.MediumCDROM}, "/dev/sr0"},
		{"raw", qemu.Config{Image: img, Medium: qemu.MediumRaw}, "/dev/vd[a-z]"},
		{"kernel", qemu.Config{FirmwareKind: qemu.FirmwareNone, Kernel: filepath.Join(kdir, "vmlinuz"),
			Initrd: filepath.Join(kdir, "initrd.img"), Append: strings.TrimSpace(string(cmdline))}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			port := freePort(t)
			cfg := tt.cfg
			cfg.Arch = "arm64"
			cfg.Disks = []string{disk}
			cfg.Publish = []qemu.PortForward{{Host: uint16(port), Guest: 8080}}
			// 1 GiB: the arm64 kernel is an uncompressed 31 MiB Image.
			cfg.Memory = "1G"
			m := boot(t, cfg)
			ctx := context.Background()
			m.Expect(ctx, `tinyboot: .*app: started /bin/`, bootWait)
			// Both mounted before the app starts, in either order: the two
			// searches run side by side.
			m.requireLines(`tinyboot: .*persistent: mounted /dev/vd[a-z] at /persistent \(btrfs, label tinyboot\)`)
			if tt.iso != "" {
				m.requireLines(`tinyboot: .*iso: mounted ` + tt.iso + ` at /iso \(volume `)
			}
			m.Expect(ctx, fmt.Sprintf(`hello: boot count %d`, i+1), stepWait)
			m.Expect(ctx, `hello: listening on :8080`, stepWait)
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			if tt.iso != "" {
				if got := httpGet(t, base+"/iso/www/index.html"); !bytes.Equal(got, want) {
					t.Errorf("GET /iso/www/index.html = %q, want the bytes of examples/www/index.html", got)
				}
			}
			if page := httpGet(t, base+"/"); !bytes.Contains(page, []byte(fmt.Sprintf("boot count: %d", i+1))) {
				t.Errorf("GET / lacks boot count %d:\n%s", i+1, page)
			}
			powerOff(t, m)
			m.requireLines(`hello: got SIGTERM`, `hello: bye`, `tinyboot: .*shutdown: synced and unmounted /persistent`)
		})
		if t.Failed() {
			return
		}
	}
}
