package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// buildExampleArm64 builds examples/tinyboot.yaml for arm64, as
// `tbcompose build --arch arm64 --locked` would with the run's arm64 pin.
func buildExampleArm64(t *testing.T) string {
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
		Output: filepath.Join(workDir, "example-arm64.iso"),
		Lock:   compose.LockOptions{Path: lockPath, Mode: compose.LockFrozen},
	})
	if err != nil {
		t.Fatalf("build the example for arm64: %v", err)
	}
	if res.Arch != "arm64" {
		t.Fatalf("built a %s image, want arm64", res.Arch)
	}
	t.Logf("built the arm64 example (%d KiB) in %v", res.Size>>10, time.Since(start).Round(time.Millisecond))
	return res.Output
}

// TestArm64Example builds the example for arm64 and boots it under
// qemu-system-aarch64 (emulated on an amd64 host) with the arm64 UEFI
// firmware: from the ISO as a CD on virtio-scsi, the app answers HTTP
// through a forwarded port and serves the /iso payload, the power button
// ends in a clean power-off; then from the same ISO as a raw virtio disk,
// the btrfs /persistent boot counter has survived.
func TestArm64Example(t *testing.T) {
	timeScenario(t)
	img := buildExampleArm64(t)
	want, err := os.ReadFile(filepath.Join("..", "examples", "www", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	disk := newDisk(t, spec.FSBtrfs, spec.DefaultLabel)
	for i, tt := range []struct {
		medium qemu.Medium
		iso    string // the device /iso is mounted from
	}{
		{qemu.MediumCDROM, "/dev/sr0"},
		{qemu.MediumRaw, "/dev/vd[a-z]"},
	} {
		t.Run(string(tt.medium), func(t *testing.T) {
			port := freePort(t)
			m := boot(t, qemu.Config{
				Arch:    "arm64",
				Image:   img,
				Medium:  tt.medium,
				Disks:   []string{disk},
				Publish: []qemu.PortForward{{Host: uint16(port), Guest: 8080}},
				// 1 GiB: the arm64 kernel is an uncompressed 31 MiB Image.
				Memory: "1G",
			})
			ctx := context.Background()
			m.Expect(ctx, `tinyboot: .*iso: mounted `+tt.iso+` at /iso \(volume `, bootWait)
			m.Expect(ctx, `tinyboot: .*persistent: mounted /dev/vd[a-z] at /persistent \(btrfs, label tinyboot\)`, bootWait)
			m.Expect(ctx, `tinyboot: .*app: started /bin/`, bootWait)
			m.Expect(ctx, fmt.Sprintf(`hello: boot count %d`, i+1), stepWait)
			m.Expect(ctx, `hello: listening on :8080`, stepWait)
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			if got := httpGet(t, base+"/iso/www/index.html"); !bytes.Equal(got, want) {
				t.Errorf("GET /iso/www/index.html = %q, want the bytes of examples/www/index.html", got)
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
