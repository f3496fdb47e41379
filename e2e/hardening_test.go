package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/internal/qemu"
	"github.com/tinyboot/tinyboot/spec"
)

// TestCrashLoopBacksOff: an app that dies at once under restart:
// on-failure is restarted with a doubling delay, not in a tight loop, and
// the power button still works while it loops.
func TestCrashLoopBacksOff(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	o := imageOpts{Args: []string{"-mode", "crash"}, Restart: spec.RestartOnFailure, OnExit: spec.OnExitPoweroff}
	m := boot(t, qemu.Config{Image: testImage(t, o)})
	expectApp(t, m)
	ctx := context.Background()
	m.Expect(ctx, `tinyboot: .*app: killed by signal 9$`, stepWait)
	for _, d := range []string{"1s", "2s", "4s"} {
		m.Expect(ctx, `tinyboot: .*app: restarting in `+d+`$`, stepWait)
	}
	powerOff(t, m)

	// Every restart waited at least its announced delay (guest time), and
	// there is one start per announced restart plus the first.
	var pending time.Duration
	var pendingAt time.Duration
	starts, restarts := 0, 0
	for _, l := range m.lines(`tinyboot: .*app: (started|restarting in)`) {
		at := stamp(t, l)
		if d := submatch(t, `app: (started|restarting)`, l); d == "restarting" {
			restarts++
			delay, err := time.ParseDuration(submatch(t, `restarting in (\S+)$`, l))
			if err != nil {
				t.Fatal(err)
			}
			pending, pendingAt = delay, at
			continue
		}
		starts++
		if starts > 1 {
			if gap := at - pendingAt; gap < pending {
				t.Errorf("restart after %v, announced %v: %q", gap, pending, l)
			}
		}
	}
	// The button may come during a backoff (one restart announced but not
	// done) or while the app runs.
	if starts < 3 || starts < restarts || starts > restarts+1 {
		t.Errorf("%d starts for %d announced restarts, want at least 3 and as many as the restarts or one more", starts, restarts)
	}
	// Up to the button the delays were 1s, 2s, 4s and maybe 8s: a flood
	// would show dozens of starts.
	if starts > 6 {
		t.Errorf("%d starts: the restarts are not backing off", starts)
	}
	t.Logf("%d starts, %d restarts announced", starts, restarts)
}

// TestNoNetworkCard: a machine without any NIC starts its app without
// waiting for DHCP, and says why it has no network.
func TestNoNetworkCard(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	m := boot(t, qemu.Config{Image: testImage(t, serveOpts), NoNetwork: true})
	expectApp(t, m)
	m.Expect(context.Background(), `testapp: ready`, stepWait)
	m.requireLines(`tinyboot: .*network: no network interface`, `^testapp: addr none$`, `^testapp: route none`)
	ready := m.lines(`tinyboot: .*boot: ready in `)
	if len(ready) != 1 {
		t.Fatalf("%d boot: ready lines, want 1", len(ready))
	}
	// network.wait is the default 30s: the app must not have waited it out.
	if net := submatch(t, `network ([^,]+),`, ready[0]); net != "0s" {
		t.Errorf("boot line %q: network took %s, want 0s without a NIC", ready[0], net)
	}
	m.refuseLines(`network: no lease after`)
	powerOff(t, m)
}

// TestNICWithoutDHCP: a NIC on a segment where nothing answers DHCP holds
// the app back for network.wait (the default 30s), no longer.
func TestNICWithoutDHCP(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	m := boot(t, qemu.Config{
		Image:     testImage(t, serveOpts),
		NoNetwork: true,
		// A NIC on a QEMU hub with no other port: its frames go nowhere.
		ExtraArgs: []string{"-netdev", "hubport,id=deaf,hubid=0", "-device", "virtio-net-pci,netdev=deaf"},
	})
	ctx := context.Background()
	m.Expect(ctx, `tinyboot: .*network: eth0: no lease \(.*\); retrying in `, bootWait)
	m.Expect(ctx, `tinyboot: .*network: no lease after 30s; starting the app anyway`, bootWait)
	expectApp(t, m)
	m.Expect(ctx, `testapp: ready`, stepWait)
	m.requireLines(`^testapp: addr none$`, `^testapp: route none`)
	powerOff(t, m)
}

// TestVolumeAbsentNotRequired: without the optional volume the app starts
// anyway and is told there is no /persistent.
func TestVolumeAbsentNotRequired(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	m := boot(t, qemu.Config{Image: testImage(t, serveOpts)})
	m.Expect(context.Background(), `tinyboot: .*persistent: no volume labelled "tinyboot" after 5s`, bootWait)
	expectApp(t, m)
	m.Expect(context.Background(), `testapp: ready`, stepWait)
	m.requireLines(`^testapp: persistent none$`)
	powerOff(t, m)
	m.refuseLines(`shutdown: synced and`)
}

// TestVolumeWrongFilesystem: an ext4 volume with the right label, where the
// spec says btrfs, is reported and left alone; the app starts without it.
func TestVolumeWrongFilesystem(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	m := boot(t, qemu.Config{Image: testImage(t, serveOpts), Disks: []string{newDisk(t, spec.FSExt4, spec.DefaultLabel)}})
	m.Expect(context.Background(), `tinyboot: .*persistent: mount /dev/vda at /persistent \(btrfs, found ext4\): `, bootWait)
	expectApp(t, m)
	m.Expect(context.Background(), `testapp: ready`, stepWait)
	m.requireLines(`^testapp: persistent none$`)
	m.refuseLines(`persistent: mounted`)
	powerOff(t, m)
}

// TestStopTimeoutKills: an app that ignores SIGTERM is killed after
// app.stop_timeout and the machine still powers off cleanly.
func TestStopTimeoutKills(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	o := imageOpts{Args: []string{"-ignore-term"}, Persistent: serveOpts.Persistent, StopTimeout: spec.Duration(2 * time.Second)}
	m := boot(t, qemu.Config{Image: testImage(t, o), Disks: []string{newDisk(t, spec.FSBtrfs, spec.DefaultLabel)}})
	expectApp(t, m)
	ctx := context.Background()
	m.Expect(ctx, `testapp: ready`, stepWait)
	m.Powerdown()
	m.Expect(ctx, `tinyboot: .*shutdown: stopping app \(SIGTERM, timeout 2s\)`, stepWait)
	m.Expect(ctx, `testapp: ignoring SIGTERM`, stepWait)
	kill := m.Expect(ctx, `tinyboot: .*shutdown: app still running after 2s; sending SIGKILL`, stepWait)
	dead := m.Expect(ctx, `tinyboot: .*app: killed by signal 9$`, stepWait)
	m.Expect(ctx, `tinyboot: .*shutdown: synced and unmounted /persistent`, stepWait)
	m.Expect(ctx, `tinyboot: .*shutdown: powering off`, stepWait)
	if got := m.WaitExit(exitWait); got != qemu.ExitPoweroff {
		t.Fatalf("machine ended with %s, want %s", got, qemu.ExitPoweroff)
	}
	t.Logf("SIGKILL to reaped: %v guest time", stamp(t, dead)-stamp(t, kill))
}

// TestLeftoverProcessUnmounted: a process the app left behind, holding a
// file open on /persistent and ignoring SIGTERM, does not keep the volume
// from being unmounted cleanly at power-off.
func TestLeftoverProcessUnmounted(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	o := imageOpts{Args: []string{"-hold"}, Persistent: serveOpts.Persistent}
	m := boot(t, qemu.Config{Image: testImage(t, o), Disks: []string{newDisk(t, spec.FSBtrfs, spec.DefaultLabel)}})
	expectApp(t, m)
	ctx := context.Background()
	m.Expect(ctx, `testapp: holding /persistent/held`, stepWait)
	powerOff(t, m)
	m.requireLines(`tinyboot: .*shutdown: synced and unmounted /persistent`, `^testapp: finished$`)
	m.refuseLines(`remounted /persistent read-only`, `shutdown: unmount /persistent`)
}
