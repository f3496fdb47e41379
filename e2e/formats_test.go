package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/compose/gce"
	"github.com/tinyboot/tinyboot/internal/bootdisk"
	"github.com/tinyboot/tinyboot/internal/qemu"
	"github.com/tinyboot/tinyboot/spec"
)

// formatSet is one build of a test image in several output formats.
type formatSet struct {
	once  sync.Once
	paths map[string]string // format → file (kernel: directory)
	err   error
}

var formatSets struct {
	mu    sync.Mutex
	built map[string]*formatSet
}

// allFormats are the formats the e2e scenarios boot, written by one build
// (raw with --disk-size 2G), as `tbcompose build --format … --disk-size
// 2G -o DIR` writes them.
var allFormats = spec.OutputFormats

const rawDiskSize = 2 << 30

// formatImages builds the test image for o in every one of allFormats,
// once per test binary, and returns each output's path by format.
func formatImages(t testing.TB, o imageOpts) map[string]string {
	t.Helper()
	RequireTools(t, ToolStub)
	text := testSpecYAML(t, o)
	sum := sha256.Sum256([]byte("formats\x00" + text))
	key := hex.EncodeToString(sum[:8])
	formatSets.mu.Lock()
	if formatSets.built == nil {
		formatSets.built = map[string]*formatSet{}
	}
	fs, ok := formatSets.built[key]
	if !ok {
		fs = &formatSet{}
		formatSets.built[key] = fs
	}
	formatSets.mu.Unlock()
	fs.once.Do(func() {
		images.build.Lock()
		defer images.build.Unlock()
		fs.paths, fs.err = compileFormats(t, text, key)
	})
	if fs.err != nil {
		t.Fatalf("build formats %s: %v\nspec:\n%s", key, fs.err, text)
	}
	return fs.paths
}

func compileFormats(t testing.TB, text, key string) (map[string]string, error) {
	dir := filepath.Join(workDir, "formats-"+key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s, diags := spec.Parse(filepath.Join(dir, "tinyboot.yaml"), []byte(text))
	if diags.HasErrors() {
		var b strings.Builder
		diags.WriteHuman(&b)
		return nil, fmt.Errorf("spec is not valid:\n%s", b.String())
	}
	lock, err := pinnedLock(t, s, filepath.Join(dir, "tinyboot.lock"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildWait)
	defer cancel()
	start := time.Now()
	res, err := compose.Build(ctx, s.WithDefaults(), compose.Options{
		Output:   filepath.Join(dir, "out"),
		Formats:  allFormats,
		DiskSize: rawDiskSize,
		Lock:     lock,
	})
	if err != nil {
		return nil, err
	}
	paths := map[string]string{}
	for _, f := range allFormats {
		paths[f] = filepath.Join(dir, "out", compose.OutputName(s.Name, f))
	}
	t.Logf("built formats %s (%d outputs) in %v", key, len(res.Outputs), time.Since(start).Round(time.Millisecond))
	return paths, nil
}

// biosServeOpts is the test app serving HTTP without a volume.
var biosServeOpts = imageOpts{Args: []string{"-listen", ":8080"}}

// serveAndStop expects the test app up with its /iso marker, answering
// HTTP on the forwarded port, and a clean power-off from the power
// button. isoDev is the device /iso is expected on.
func serveAndStop(t *testing.T, m *Machine, port int, isoDev string) {
	t.Helper()
	expectApp(t, m)
	m.Expect(context.Background(), `testapp: listening on :8080`, stepWait)
	if page := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); !bytes.HasPrefix(page, []byte("testapp on ")) {
		t.Errorf("GET / = %q, want the test app's greeting", page)
	}
	m.requireLines(
		`tinyboot: .*iso: mounted `+isoDev+` at /iso \(volume `,
		`^testapp: iso /iso marker "`+regexp.QuoteMeta(payloadMarker)+`"$`,
	)
	powerOff(t, m)
}

// TestBIOSBoot boots the default ISO under SeaBIOS, QEMU's default
// firmware, through ISOLINUX: as a CD (El Torito), as a USB stick and as
// a raw virtio disk (both through the isohybrid MBR code).
func TestBIOSBoot(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		medium qemu.Medium
		isoDev string
	}{
		{"cdrom", qemu.MediumCDROM, "/dev/sr0"},
		{"usb", qemu.MediumUSB, "/dev/sd[a-z]"},
		{"raw", qemu.MediumRaw, "/dev/vda"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			timeScenario(t)
			img := formatImages(t, biosServeOpts)[spec.FormatISO]
			port := freePort(t)
			m := boot(t, qemu.Config{Image: img, Medium: tt.medium, FirmwareKind: qemu.FirmwareBIOS,
				Publish: []qemu.PortForward{{Host: uint16(port), Guest: 8080}}})
			m.Expect(context.Background(), `tinyboot: .*secure boot: not UEFI`, bootWait)
			serveAndStop(t, m, port, tt.isoDev)
		})
	}
}

// TestCloudDisks boots the raw format (a 2 GiB GPT disk) and the disk.raw
// of the gce archive under OVMF with the disk on virtio-scsi, Google
// Compute Engine's controller.
func TestCloudDisks(t *testing.T) {
	t.Parallel()
	for _, format := range []string{spec.FormatRaw, spec.FormatGCE} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			timeScenario(t)
			out := formatImages(t, biosServeOpts)[format]
			disk := out
			if format == spec.FormatGCE {
				var err error
				if disk, err = bootdisk.ExtractGCE(out, t.TempDir()); err != nil {
					t.Fatal(err)
				}
			}
			fi, err := os.Stat(disk)
			if err != nil {
				t.Fatal(err)
			}
			want := int64(rawDiskSize)
			if format == spec.FormatGCE {
				want = gce.GiB
			}
			if fi.Size() != want {
				t.Errorf("%s disk is %d bytes, want %d", format, fi.Size(), want)
			}
			port := freePort(t)
			m := boot(t, qemu.Config{Image: disk, Medium: qemu.MediumSCSI,
				Publish: []qemu.PortForward{{Host: uint16(port), Guest: 8080}}})
			serveAndStop(t, m, port, "/dev/sd[a-z]")
		})
	}
}

// TestAppFromISO boots an image whose app runs from the ISO's filesystem
// (app.run_from: iso) under OVMF as a CD: the agent starts it from /iso
// once the ISO is mounted, and it answers HTTP through a forwarded port
// with its /iso marker there, then powers off on the button.
func TestAppFromISO(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	img := testImage(t, imageOpts{Args: []string{"-listen", ":8080"}, RunFrom: spec.RunFromISO})
	port := freePort(t)
	m := boot(t, qemu.Config{Image: img, Publish: []qemu.PortForward{{Host: uint16(port), Guest: 8080}}})
	m.Expect(context.Background(), `tinyboot: .*app: started /iso/tinyboot/e2e \(pid \d+\)`, bootWait)
	serveAndStop(t, m, port, "/dev/sr0")
}
