package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/internal/qemu"
	"github.com/tinyboot/tinyboot/spec"
)

// serveOpts is the test app serving until SIGTERM, with an optional btrfs
// volume: the image most scenarios share.
var serveOpts = imageOpts{
	Persistent: &spec.Persistent{Label: spec.DefaultLabel, FS: spec.FSBtrfs, Wait: spec.Duration(5 * time.Second)},
}

// persistentOpts is the test app with a required volume of fs.
func persistentOpts(fs string) imageOpts {
	return imageOpts{Persistent: &spec.Persistent{Label: spec.DefaultLabel, FS: fs, Required: true}}
}

// powerOff presses the power button and expects a clean power-off.
func powerOff(t *testing.T, m *Machine) {
	t.Helper()
	m.Powerdown()
	ctx := context.Background()
	m.Expect(ctx, `tinyboot: .*shutdown: power button`, stepWait)
	m.Expect(ctx, `tinyboot: .*shutdown: powering off`, stepWait)
	if got := m.WaitExit(exitWait); got != qemu.ExitPoweroff {
		t.Fatalf("machine ended with %s, want %s", got, qemu.ExitPoweroff)
	}
}

// TestExampleServesISO boots examples/tinyboot.yaml from a CD under UEFI
// and fetches a file from its ISO over a forwarded port.
func TestExampleServesISO(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	text, err := os.ReadFile(filepath.Join("..", "examples", "tinyboot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "examples", "www", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	exampleDir, err := filepath.Abs(filepath.Join("..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	img := buildImage(t, string(text), exampleDir)
	port := freePort(t)
	m := boot(t, qemu.Config{
		Image:   img,
		Disks:   []string{newDisk(t, spec.FSBtrfs, spec.DefaultLabel)},
		Publish: []qemu.PortForward{{Host: uint16(port), Guest: 8080}},
	})
	ctx := context.Background()
	m.Expect(ctx, `tinyboot: .*iso: mounted /dev/sr0 at /iso \(volume `, bootWait)
	started := m.Expect(ctx, `tinyboot: .*app: started /bin/`, bootWait)
	noteGuest(t, stamp(t, started))
	m.Expect(ctx, `hello: boot count 1`, stepWait)
	m.Expect(ctx, `hello: listening on :8080`, stepWait)

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	got := httpGet(t, base+"/iso/www/index.html")
	if !bytes.Equal(got, want) {
		t.Errorf("GET /iso/www/index.html = %q, want the bytes of examples/www/index.html (%q)", got, want)
	}
	if page := httpGet(t, base+"/"); !bytes.Contains(page, []byte("hello from tinyboot")) || !bytes.Contains(page, []byte("boot count: 1")) {
		t.Errorf("GET / lacks the greeting or the boot count:\n%s", page)
	}
	powerOff(t, m)
	m.requireLines(`hello: got SIGTERM`, `hello: bye`, `tinyboot: .*shutdown: synced and unmounted /persistent`)
}

// httpGet fetches url, retrying while the forwarded port is not yet
// answering, and fails the test on a non-200 status.
func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second}
	deadline := time.Now().Add(stepWait)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return body
			}
			err = fmt.Errorf("status %s, body %q, read: %v", resp.Status, body, rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(time.Second)
	}
}

// TestPersistentData writes to the volume, presses the power button and
// boots again: everything the app fsynced is there, including what it
// wrote right before the button and in its SIGTERM handler.
func TestPersistentData(t *testing.T) {
	t.Parallel()
	for _, fs := range []string{spec.FSBtrfs, spec.FSExt4} {
		t.Run(fs, func(t *testing.T) {
			t.Parallel()
			timeScenario(t)
			img := testImage(t, persistentOpts(fs))
			disk := newDisk(t, fs, spec.DefaultLabel)
			ctx := context.Background()

			m := boot(t, qemu.Config{Image: img, Disks: []string{disk}})
			m.Expect(ctx, fmt.Sprintf(`tinyboot: .*persistent: mounted /dev/vd[a-z] at /persistent \(%s, label tinyboot\)`, fs), bootWait)
			expectApp(t, m)
			m.Expect(ctx, `testapp: found final none`, stepWait)
			m.Expect(ctx, `testapp: boot count 1$`, stepWait)
			last := submatch(t, `wrote lastwrite (".*")`, m.Expect(ctx, `testapp: wrote lastwrite "`, stepWait))
			// No wait between the write and the button: the write must
			// survive however soon the machine is told to stop.
			m.Powerdown()
			m.Expect(ctx, `tinyboot: .*shutdown: power button`, stepWait)
			m.Expect(ctx, `testapp: got SIGTERM`, stepWait)
			m.Expect(ctx, `testapp: wrote final "boot 1"`, stepWait)
			m.Expect(ctx, `testapp: finished`, stepWait)
			m.Expect(ctx, `tinyboot: .*app: exited with status 0`, stepWait)
			m.Expect(ctx, `tinyboot: .*shutdown: synced and unmounted /persistent`, stepWait)
			m.Expect(ctx, `tinyboot: .*shutdown: powering off`, stepWait)
			if got := m.WaitExit(exitWait); got != qemu.ExitPoweroff {
				t.Fatalf("first boot ended with %s, want %s", got, qemu.ExitPoweroff)
			}

			m = boot(t, qemu.Config{Image: img, Disks: []string{disk}})
			expectApp(t, m)
			m.Expect(ctx, `testapp: found final "boot 1"`, stepWait)
			m.Expect(ctx, `testapp: found lastwrite `+regexp.QuoteMeta(last), stepWait)
			m.Expect(ctx, `testapp: boot count 2$`, stepWait)
			m.Expect(ctx, `testapp: ready`, stepWait)
			powerOff(t, m)
		})
	}
}

// TestAppExitEndsMachine lets the app end on its own: the agent cleans up
// and does what on_exit says.
func TestAppExitEndsMachine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		onExit string
		volume bool
		verb   string
		want   qemu.ExitReason
	}{
		{spec.OnExitReboot, true, "rebooting", qemu.ExitReboot},
		{spec.OnExitPoweroff, false, "powering off", qemu.ExitPoweroff},
	}
	for _, tc := range tests {
		t.Run(tc.onExit, func(t *testing.T) {
			t.Parallel()
			timeScenario(t)
			o := imageOpts{Args: []string{"-mode", "exit", "-exit-code", "0"}, OnExit: tc.onExit}
			cfg := qemu.Config{}
			if tc.volume {
				o.Persistent = serveOpts.Persistent
				cfg.Disks = []string{newDisk(t, spec.FSBtrfs, spec.DefaultLabel)}
			}
			cfg.Image = testImage(t, o)
			m := boot(t, cfg)
			expectApp(t, m)
			ctx := context.Background()
			m.Expect(ctx, `testapp: exiting with status 0`, stepWait)
			m.Expect(ctx, `tinyboot: .*app: exited with status 0`, stepWait)
			m.Expect(ctx, fmt.Sprintf(`tinyboot: .*shutdown: app ended \(on_exit %s\)`, tc.onExit), stepWait)
			if tc.volume {
				m.Expect(ctx, `tinyboot: .*shutdown: synced and unmounted /persistent`, stepWait)
			}
			m.Expect(ctx, `tinyboot: .*shutdown: `+tc.verb+`$`, stepWait)
			if got := m.WaitExit(exitWait); got != tc.want {
				t.Fatalf("machine ended with %s, want %s", got, tc.want)
			}
			m.refuseLines(`app: restarting`)
		})
	}
}

// TestNetworkAsAppSeesIt checks the DHCP lease from inside the app: the
// address, the default route and resolv.conf QEMU's user network offers.
func TestNetworkAsAppSeesIt(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	m := boot(t, qemu.Config{Image: testImage(t, serveOpts)})
	expectApp(t, m)
	m.Expect(context.Background(), `testapp: ready`, stepWait)
	m.requireLines(
		`tinyboot: .*network: eth0: leased 10\.0\.2\.15/24 via 10\.0\.2\.2 dns 10\.0\.2\.3 \(lease `,
		`^testapp: addr eth0 10\.0\.2\.15/24$`,
		`^testapp: route default via 10\.0\.2\.2 dev eth0$`,
		`^testapp: nameserver 10\.0\.2\.3$`,
	)
	if n := len(m.lines(`^testapp: nameserver `)); n != 1 {
		t.Errorf("the app sees %d nameservers, want 1", n)
	}
	if n := len(m.lines(`^testapp: addr `)); n != 1 {
		t.Errorf("the app sees %d IPv4 addresses outside loopback, want 1", n)
	}
	powerOff(t, m)
}

// The same ISO boots as a raw virtio disk and from a USB stick (through
// its GPT as well as El Torito), and the agent finds /iso on that disk.
func TestHybridBoot(t *testing.T) {
	for _, tt := range []struct {
		name   string
		medium qemu.Medium
		isoDev string
	}{
		{"raw", qemu.MediumRaw, "/dev/vda"},
		{"usb", qemu.MediumUSB, "/dev/sd[a-z]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			timeScenario(t)
			m := boot(t, qemu.Config{Image: testImage(t, serveOpts), Medium: tt.medium})
			expectApp(t, m)
			m.Expect(context.Background(), `testapp: ready`, stepWait)
			m.requireLines(
				`tinyboot: .*iso: mounted `+tt.isoDev+` at /iso \(volume `,
				`^testapp: iso /iso marker "`+regexp.QuoteMeta(payloadMarker)+`"$`,
			)
			powerOff(t, m)
		})
	}
}

// TestRequiredVolumeMissing: without its required volume the machine
// powers off and never starts the app.
func TestRequiredVolumeMissing(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	m := boot(t, qemu.Config{Image: testImage(t, persistentOpts(spec.FSBtrfs))})
	m.Expect(context.Background(), `tinyboot: .*persistent: no volume labelled "tinyboot" after 10s`, bootWait)
	m.Expect(context.Background(), `tinyboot: .*persistent: required volume missing; powering off`, stepWait)
	if got := m.WaitExit(exitWait); got != qemu.ExitPoweroff {
		t.Fatalf("machine ended with %s, want %s", got, qemu.ExitPoweroff)
	}
	m.requireLines(`tinyboot: .*shutdown: powering off`)
	m.refuseLines(`app: started`, `^testapp: `)
}

// TestAppPanicReboots: an app that panics at start is reported with its
// exit status and the machine reboots instead of hanging.
func TestAppPanicReboots(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	m := boot(t, qemu.Config{Image: testImage(t, imageOpts{Args: []string{"-mode", "panic"}})})
	expectApp(t, m)
	ctx := context.Background()
	m.Expect(ctx, `panic: testapp: panicking at start`, stepWait)
	m.Expect(ctx, `tinyboot: .*app: exited with status 2$`, stepWait)
	m.Expect(ctx, `tinyboot: .*shutdown: app ended \(on_exit reboot\)`, stepWait)
	m.Expect(ctx, `tinyboot: .*shutdown: rebooting`, stepWait)
	if got := m.WaitExit(exitWait); got != qemu.ExitReboot {
		t.Fatalf("machine ended with %s, want %s", got, qemu.ExitReboot)
	}
}

// TestClockFollowsSNTP serves a deliberately wrong time from the host and
// checks that the guest's clock follows it.
func TestClockFollowsSNTP(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	const skew = 1000 * 24 * time.Hour
	srv := startSNTP(t, skew)
	// Under QEMU's user network the guest reaches the host's loopback as
	// 10.0.2.2; the agent takes host:port, so no privileged port is needed.
	o := imageOpts{NTP: []string{"10.0.2.2:" + strconv.Itoa(srv.port)}}
	m := boot(t, qemu.Config{Image: testImage(t, o)})
	ctx := context.Background()
	step := m.Expect(ctx, `tinyboot: .*time: stepped clock by `, bootWait)
	off, err := time.ParseDuration(submatch(t, `stepped clock by \+?(\S+) \(server 10\.0\.2\.2\)`, step))
	if err != nil {
		t.Fatalf("offset in %q: %v", step, err)
	}
	// The guest's RTC starts at the host's time, so the step is the skew.
	if d := off - skew; d < -time.Minute || d > time.Minute {
		t.Errorf("stepped by %v, want about %v", off, skew)
	}
	expectApp(t, m)
	line := m.Expect(ctx, `^testapp: time \d+$`, stepWait)
	now := time.Now()
	guest, err := strconv.ParseInt(submatch(t, `time (\d+)`, line), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	served := now.Add(skew)
	// The line was printed a little before we read it; TCG adds delay.
	d := served.Sub(time.Unix(guest, 0))
	if d < -5*time.Second || d > 2*time.Minute {
		t.Errorf("the app's clock reads %v, want about the served %v (off by %v)", time.Unix(guest, 0).UTC(), served.UTC(), d)
	}
	t.Logf("stepped by %v; the app's clock read %v, %v behind the served time when the test saw it", off, time.Unix(guest, 0).UTC(), d)
	if n := srv.requests(); n == 0 {
		t.Errorf("the SNTP server got no request")
	}
	m.Expect(ctx, `testapp: ready`, stepWait)
	powerOff(t, m)
}
