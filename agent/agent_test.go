package agent

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/agent/blkid"
	"github.com/tinyboot/tinyboot/agent/console"
	"github.com/tinyboot/tinyboot/agent/sntp"
	"github.com/tinyboot/tinyboot/spec/baked"
)

func config() *baked.Config {
	return &baked.Config{
		Version:       1,
		Hostname:      "hello",
		KernelVersion: "6.1.0-56-amd64",
		App: baked.App{
			Path:        "/bin/hello",
			Args:        []string{"-v"},
			Env:         map[string]string{"GREETING": "hi"},
			StopTimeout: baked.Duration(10 * time.Second),
			Restart:     "never",
			OnExit:      "reboot",
		},
		ISO:        baked.ISO{VolumeID: "HELLO"},
		Persistent: &baked.Persistent{Label: "tinyboot", FS: "btrfs", Wait: baked.Duration(10 * time.Second)},
	}
}

// disks is a CD and a persistent btrfs disk.
func disks() *fakeSys {
	return &fakeSys{
		devs: [][]BlockDevice{{{Name: "sr0"}, {Name: "vdb"}}},
		info: map[string]blkid.Info{
			"sr0": {Type: blkid.ISO9660, Label: "HELLO"},
			"vdb": {Type: blkid.Btrfs, Label: "tinyboot"},
		},
	}
}

type harness struct {
	sys    *fakeSys
	out    *consoleBuf
	clock  *scaledClock
	events chan Event
	deps   Deps
}

func newHarness(sys *fakeSys) *harness {
	h := &harness{sys: sys, out: &consoleBuf{}, clock: newClock(), events: make(chan Event, 4)}
	h.deps = Deps{
		Sys:    sys,
		Log:    console.New(h.out, func() time.Duration { return 0 }),
		Clock:  h.clock,
		Events: h.events,
	}
	return h
}

func (h *harness) run(t *testing.T, cfg *baked.Config) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(context.Background(), cfg, h.deps)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return; console:\n%s", strings.Join(h.out.Lines(), "\n"))
	}
}

func exit(code int) *ExitStatus { return &ExitStatus{Code: code} }

func TestPowerButton(t *testing.T) {
	tests := []struct {
		name      string
		obeys     syscall.Signal
		busy      bool
		lingering int // Leftovers calls that still find a process
		wantProbe int
		wantCalls []string
		wantLines []string
		notLines  []string
	}{
		{
			name:      "leftovers gone after a few probes",
			obeys:     syscall.SIGTERM,
			lingering: 3,
			wantProbe: 4,
			wantCalls: []string{"kill -1 KILL", "sync", "unmount /persistent", "reboot poweroff"},
			wantLines: []string{"shutdown: synced and unmounted /persistent"},
			notLines:  []string{"shutdown: processes still running 2s after SIGKILL; going on"},
		},
		{
			name:      "leftovers never go",
			obeys:     syscall.SIGTERM,
			lingering: 1 << 30,
			wantCalls: []string{"kill -1 KILL", "sync", "unmount /persistent", "reboot poweroff"},
			wantLines: []string{"shutdown: processes still running 2s after SIGKILL; going on"},
		},
		{
			name:  "app ignores SIGTERM",
			obeys: syscall.SIGKILL,
			wantCalls: []string{"kill 101 TERM", "kill 101 KILL", "kill -1 KILL", "sync",
				"unmount /persistent", "unmount /iso", "reboot poweroff"},
			wantLines: []string{
				"app: started /bin/hello (pid 101)",
				"shutdown: power button",
				"shutdown: stopping app (SIGTERM, timeout 10s)",
				"shutdown: app still running after 10s; sending SIGKILL",
				"app: killed by signal 9",
				"shutdown: synced and unmounted /persistent",
				"shutdown: powering off",
			},
		},
		{
			name:      "app stops on SIGTERM",
			obeys:     syscall.SIGTERM,
			wantCalls: []string{"kill 101 TERM", "kill -1 KILL", "sync", "unmount /persistent", "reboot poweroff"},
			wantLines: []string{"shutdown: power button", "app: killed by signal 15", "shutdown: synced and unmounted /persistent", "shutdown: powering off"},
		},
		{
			name:      "persistent busy is remounted read-only",
			obeys:     syscall.SIGTERM,
			busy:      true,
			wantCalls: []string{"sync", "unmount /persistent", "mount  /persistent  0x21", "reboot poweroff"},
			wantLines: []string{"shutdown: synced and remounted /persistent read-only (unmount: device or resource busy)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := disks()
			sys.busy = tt.busy
			sys.lingering = tt.lingering
			h := newHarness(sys)
			sys.procs = []proc{{obeys: tt.obeys, onStarted: func() {
				h.events <- Event{Reason: "power button", Action: PowerOff}
			}}}
			h.run(t, config())
			calls := sys.Calls()
			has(t, "calls", calls, tt.wantCalls)
			lines := h.out.Lines()
			has(t, "console", lines, tt.wantLines)
			for _, l := range tt.notLines {
				lacks(t, "console", lines, l)
			}
			if tt.wantProbe > 0 && sys.probes != tt.wantProbe {
				t.Errorf("%d Leftovers calls, want %d", sys.probes, tt.wantProbe)
			}
			if tt.obeys == syscall.SIGTERM {
				lacks(t, "calls", calls, "kill 101 KILL")
			}
			if last := calls[len(calls)-1]; last != "reboot poweroff" {
				t.Errorf("last call %q", last)
			}
			if !has10s(h.clock.waits) {
				t.Errorf("waits %v: no stop timeout", h.clock.waits)
			}
		})
	}
}

func has10s(ws []time.Duration) bool {
	for _, w := range ws {
		if w == 10*time.Second {
			return true
		}
	}
	return false
}

func TestAppExit(t *testing.T) {
	tests := []struct {
		name      string
		restart   string
		onExit    string
		procs     []proc
		wantLines []string
		wantWaits []time.Duration
		wantCall  string
	}{
		{
			name: "never, reboot", restart: "never", onExit: "",
			procs:     []proc{{exit: exit(0)}},
			wantLines: []string{"app: exited with status 0", "shutdown: app ended (on_exit reboot)", "shutdown: rebooting"},
			wantCall:  "reboot reboot",
		},
		{
			name: "never, poweroff", restart: "never", onExit: "poweroff",
			procs:     []proc{{exit: exit(3)}},
			wantLines: []string{"app: exited with status 3", "shutdown: powering off"},
			wantCall:  "reboot poweroff",
		},
		{
			name: "never, halt", restart: "never", onExit: "halt",
			procs:     []proc{{exit: &ExitStatus{Signal: syscall.SIGSEGV}}},
			wantLines: []string{"app: killed by signal 11", "shutdown: halting"},
			wantCall:  "reboot halt",
		},
		{
			name: "on-failure restarts with backoff until success", restart: "on-failure", onExit: "poweroff",
			procs: []proc{{exit: exit(2)}, {exit: &ExitStatus{Signal: syscall.SIGKILL}}, {exit: exit(1)}, {exit: exit(0)}},
			wantLines: []string{
				"app: exited with status 2", "app: restarting in 1s",
				"app: killed by signal 9", "app: restarting in 2s",
				"app: exited with status 1", "app: restarting in 4s",
				"app: exited with status 0", "shutdown: app ended (on_exit poweroff)", "shutdown: powering off",
			},
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
			wantCall:  "reboot poweroff",
		},
		{
			name: "always restarts after success; start failure counts", restart: "always", onExit: "halt",
			// The fake refuses a third start: treated as a failed run.
			procs:     []proc{{exit: exit(0)}, {exit: exit(0)}},
			wantLines: []string{"app: restarting in 1s", "app: restarting in 2s", "app: start /bin/hello: no more scripted runs", "app: restarting in 4s"},
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := disks()
			sys.procs = tt.procs
			h := newHarness(sys)
			cfg := config()
			cfg.App.Restart, cfg.App.OnExit = tt.restart, tt.onExit
			if tt.restart == "always" {
				// Stop the endless loop with ctrl-alt-del during a backoff.
				go func() {
					for {
						if strings.Contains(strings.Join(h.out.Lines(), "\n"), "restarting in 4s") {
							h.events <- Event{Reason: "ctrl-alt-del", Action: Reboot}
							return
						}
						time.Sleep(time.Millisecond)
					}
				}()
				tt.wantLines = append(tt.wantLines, "shutdown: ctrl-alt-del", "shutdown: rebooting")
				tt.wantCall = "reboot reboot"
			}
			h.run(t, cfg)
			has(t, "console", h.out.Lines(), tt.wantLines)
			calls := sys.Calls()
			if last := calls[len(calls)-1]; last != tt.wantCall {
				t.Errorf("last call %q, want %q", last, tt.wantCall)
			}
			var backoffs []time.Duration
			for _, w := range h.clock.waits {
				if w >= time.Second && w != 10*time.Second {
					backoffs = append(backoffs, w)
				}
			}
			if len(tt.wantWaits) > 0 && !equalDur(backoffs, tt.wantWaits) {
				t.Errorf("backoffs %v, want %v", backoffs, tt.wantWaits)
			}
		})
	}
}

func equalDur(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAppEnvAndStart(t *testing.T) {
	sys := disks()
	sys.procs = []proc{{exit: exit(0)}}
	h := newHarness(sys)
	h.run(t, config())
	want := "start /bin/hello -v GREETING=hi HOME=/root LOGNAME=root PATH=" + defaultPath + " TINYBOOT_ISO=/iso TINYBOOT_PERSISTENT=/persistent USER=root"
	// The two mounts run side by side; each comes before the app.
	has(t, "calls", sys.Calls(), []string{"hostname hello", "mount /dev/sr0 /iso iso9660 0x1", want})
	has(t, "calls", sys.Calls(), []string{"hostname hello", "mount /dev/vdb /persistent btrfs 0x0", want})
	has(t, "console", h.out.Lines(), []string{"iso: mounted /dev/sr0 at /iso (volume HELLO)", "app: started /bin/hello (pid 101)"})
	has(t, "console", h.out.Lines(), []string{"persistent: mounted /dev/vdb at /persistent (btrfs, label tinyboot)", "app: started /bin/hello (pid 101)"})
	for _, l := range h.out.Lines() {
		if strings.HasPrefix(l, "boot: ready in ") && strings.Contains(l, "(modules ") {
			return
		}
	}
	t.Errorf("no boot: ready line in %q", h.out.Lines())
}

func TestStorage(t *testing.T) {
	iso := blkid.Info{Type: blkid.ISO9660, Label: "HELLO"}
	tests := []struct {
		name      string
		devs      [][]BlockDevice
		info      map[string]blkid.Info
		required  bool
		noISO     bool
		wantLines []string
		wantStart bool
	}{
		{
			// The kernel format's boot: an ISO that is there is not
			// mounted, and none is waited for.
			name:      "tinyboot.iso=none",
			devs:      [][]BlockDevice{{{Name: "sr0"}, {Name: "vdb"}}},
			info:      map[string]blkid.Info{"sr0": iso, "vdb": {Type: blkid.Btrfs, Label: "tinyboot"}},
			noISO:     true,
			wantLines: []string{"iso: none on this boot (tinyboot.iso=none)", "persistent: mounted /dev/vdb at /persistent (btrfs, label tinyboot)"},
			wantStart: true,
		},
		{
			name: "hybrid ISO as a disk: whole disk over partition, appearing late",
			devs: [][]BlockDevice{nil, nil, {{Name: "vda1", Partition: true, Parent: "vda"}}, {{Name: "vda"}, {Name: "vda1", Partition: true, Parent: "vda"}, {Name: "vdb"}}},
			info: map[string]blkid.Info{"vda": iso, "vda1": iso, "vdb": {Type: blkid.Ext4, Label: "tinyboot"}},
			wantLines: []string{"iso: mounted /dev/vda at /iso (volume HELLO)",
				"persistent: mounted /dev/vdb at /persistent (btrfs, label tinyboot)"},
			wantStart: true,
		},
		{
			name:      "matching volume id wins over another ISO",
			devs:      [][]BlockDevice{{{Name: "sr0"}, {Name: "sr1"}, {Name: "vdb"}}},
			info:      map[string]blkid.Info{"sr0": {Type: blkid.ISO9660, Label: "OTHER"}, "sr1": iso, "vdb": {Type: blkid.Btrfs, Label: "tinyboot"}},
			wantLines: []string{"iso: mounted /dev/sr1 at /iso (volume HELLO)"},
			wantStart: true,
		},
		{
			name:      "persistent missing, not required",
			devs:      [][]BlockDevice{{{Name: "sr0"}}},
			info:      map[string]blkid.Info{"sr0": iso},
			wantLines: []string{"iso: mounted /dev/sr0 at /iso (volume HELLO)", `persistent: no volume labelled "tinyboot" after 10s`},
			wantStart: true,
		},
		{
			name:      "persistent missing, required",
			devs:      [][]BlockDevice{{{Name: "sr0"}, {Name: "vdb"}}},
			info:      map[string]blkid.Info{"sr0": iso, "vdb": {Type: blkid.Btrfs, Label: "other"}},
			required:  true,
			wantLines: []string{`persistent: no volume labelled "tinyboot" after 10s`, "persistent: required volume missing; powering off", "shutdown: powering off"},
		},
		{
			name:      "nothing at all",
			wantLines: []string{"iso: not found", `persistent: no volume labelled "tinyboot" after 10s`},
			wantStart: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := &fakeSys{devs: tt.devs, info: tt.info, procs: []proc{{exit: exit(0)}}}
			h := newHarness(sys)
			h.deps.NoISO = tt.noISO
			cfg := config()
			cfg.Persistent.Required = tt.required
			h.run(t, cfg)
			// The ISO's and the volume's lines come from searches that run
			// side by side; the lines of each are in order.
			var isoLines, otherLines []string
			for _, l := range tt.wantLines {
				if strings.HasPrefix(l, "iso: ") {
					isoLines = append(isoLines, l)
				} else {
					otherLines = append(otherLines, l)
				}
			}
			has(t, "console", h.out.Lines(), isoLines)
			has(t, "console", h.out.Lines(), otherLines)
			if tt.noISO {
				for _, c := range sys.Calls() {
					if strings.Contains(c, "/iso") {
						t.Errorf("tinyboot.iso=none, but the agent called %q", c)
					}
				}
			}
			started := sys.started > 0
			if started != tt.wantStart {
				t.Errorf("app started %v, want %v", started, tt.wantStart)
			}
			if !tt.wantStart {
				calls := sys.Calls()
				if last := calls[len(calls)-1]; last != "reboot poweroff" {
					t.Errorf("last call %q", last)
				}
			}
		})
	}
}

// The ISO is mounted as soon as it is found, not once the persistent
// volume's wait is over: the app may start without the volume, but /iso
// should not be late because of it.
func TestISOMountedBeforePersistentWait(t *testing.T) {
	iso := blkid.Info{Type: blkid.ISO9660, Label: "HELLO"}
	sr0 := BlockDevice{Name: "sr0"}
	// The volume appears after 200 polls (4 ms of the test's fast clock):
	// time enough for the ISO's mount, which runs in its own goroutine.
	devs := make([][]BlockDevice, 200, 201)
	for i := range devs {
		devs[i] = []BlockDevice{sr0}
	}
	sys := &fakeSys{
		devs:  append(devs, []BlockDevice{sr0, {Name: "vdb"}}),
		info:  map[string]blkid.Info{"sr0": iso, "vdb": {Type: blkid.Btrfs, Label: "tinyboot"}},
		procs: []proc{{exit: exit(0)}},
	}
	h := newHarness(sys)
	h.run(t, config())
	has(t, "console", h.out.Lines(), []string{"iso: mounted /dev/sr0 at /iso (volume HELLO)", "persistent: mounted /dev/vdb at /persistent (btrfs, label tinyboot)"})
	if iso, pers := sys.mountPoll["/iso"], sys.mountPoll["/persistent"]; iso >= pers || pers < 200 {
		t.Errorf("/iso mounted after poll %d, /persistent after poll %d: want /iso before the volume appears (poll 201)", iso, pers)
	}
}

// The storage search runs beside the module loads: a volume whose disk is
// there is mounted, its filesystem's module loaded, while another driver
// is still in its init (as ahci waits out its link resets).
func TestStorageBesideModules(t *testing.T) {
	sys := disks()
	sys.procs = []proc{{exit: exit(0)}}
	const slow = "/lib/modules/6.1.0-56-amd64/kernel/slow.ko"
	sys.onLoad = func(path string) {
		if path != slow {
			return
		}
		// Real time: the test's clock only moves with the agent's timers.
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if slices.Contains(sys.Calls(), "mount /dev/vdb /persistent btrfs 0x0") {
				return
			}
		}
	}
	h := newHarness(sys)
	cfg := config()
	cfg.Modules = []baked.Module{
		{Name: "slow", Path: "kernel/slow.ko", Always: true},
		{Name: "btrfs", Path: "kernel/btrfs.ko", Aliases: []string{"fs-btrfs"}},
	}
	h.run(t, cfg)
	has(t, "calls", sys.Calls(), []string{
		"load /lib/modules/6.1.0-56-amd64/kernel/btrfs.ko",
		"mount /dev/vdb /persistent btrfs 0x0",
	})
	var lines []string
	for _, l := range h.out.Lines() {
		lines = append(lines, durRE.ReplaceAllString(l, " in D"))
	}
	has(t, "console", lines, []string{
		"modules: loaded 1 in D: btrfs (btrfs)",
		"persistent: mounted /dev/vdb at /persistent (btrfs, label tinyboot)",
		"modules: loaded 1 of 2 in D: slow (spec)",
		"app: started /bin/hello (pid 101)",
	})
}

// A disk the kernel is still adding is not opened (that would make the
// kernel run the module helper for a block-major-N request), nor is a
// partition in the poll that first lists it; a disk that stays in that
// state is opened after registerGrace all the same.
func TestStorageWaitsForRegisteredDisks(t *testing.T) {
	now := time.Unix(1000, 0)
	disk := BlockDevice{Name: "vda", Registering: true}
	first := map[string]time.Time{}
	for _, tc := range []struct {
		d      BlockDevice
		listed map[string]bool
		at     time.Duration
		want   bool
	}{
		{BlockDevice{Name: "sr0"}, nil, 0, true},
		{disk, nil, 0, false},
		{disk, nil, registerGrace / 2, false},
		{disk, nil, registerGrace, true},
		{BlockDevice{Name: "vda1", Partition: true, Parent: "vda"}, map[string]bool{"vda": true}, 0, false},
		{BlockDevice{Name: "vda1", Partition: true, Parent: "vda"}, map[string]bool{"vda": true, "vda1": true}, 0, true},
	} {
		if got := probeable(tc.d, tc.listed, first, now.Add(tc.at)); got != tc.want {
			t.Errorf("probeable(%+v, listed %v) at +%s = %v, want %v", tc.d, tc.listed, tc.at, got, tc.want)
		}
	}

	iso := blkid.Info{Type: blkid.ISO9660, Label: "HELLO"}
	adding := BlockDevice{Name: "vdb", Registering: true}
	sys := &fakeSys{
		devs:  [][]BlockDevice{{{Name: "sr0"}, adding}, {{Name: "sr0"}, adding}, {{Name: "sr0"}, {Name: "vdb"}}},
		info:  map[string]blkid.Info{"sr0": iso, "vdb": {Type: blkid.Btrfs, Label: "tinyboot"}},
		procs: []proc{{exit: exit(0)}},
	}
	h := newHarness(sys)
	h.run(t, config())
	has(t, "console", h.out.Lines(), []string{"persistent: mounted /dev/vdb at /persistent (btrfs, label tinyboot)"})
	if n, at := sys.opened["vdb"], sys.openedAt["vdb"]; n != 1 || at != 3 {
		t.Errorf("vdb probed %d times, first in poll %d; want once, in poll 3, when the kernel had added it", n, at)
	}
}

func TestModules(t *testing.T) {
	sys := disks()
	sys.procs = []proc{{exit: exit(0)}}
	sys.failMod = map[string]error{
		"/lib/modules/6.1.0-56-amd64/kernel/a.ko": syscall.EEXIST,
		"/lib/modules/6.1.0-56-amd64/kernel/b.ko": syscall.ENOEXEC,
		"/lib/modules/6.1.0-56-amd64/kernel/d.ko": syscall.ENODEV,
	}
	h := newHarness(sys)
	cfg := config()
	cfg.Modules = []baked.Module{
		{Name: "a", Path: "kernel/a.ko"},
		{Name: "b", Path: "kernel/b.ko"},
		{Name: "c", Path: "kernel/c.ko"},
		{Name: "d", Path: "kernel/d.ko"},
	}
	h.run(t, cfg)
	// Independent modules load side by side, in any order.
	hasAll(t, "calls", sys.Calls(), []string{
		"load /lib/modules/6.1.0-56-amd64/kernel/a.ko",
		"load /lib/modules/6.1.0-56-amd64/kernel/b.ko",
		"load /lib/modules/6.1.0-56-amd64/kernel/c.ko",
		"load /lib/modules/6.1.0-56-amd64/kernel/d.ko",
	})
	lines := h.out.Lines()
	has(t, "console", lines, []string{"modules: b: exec format error"})
	found := false
	for _, l := range lines {
		if strings.HasPrefix(l, "modules: d:") {
			t.Errorf("ENODEV logged as an error: %q", l)
		}
		found = found || strings.HasPrefix(l, "modules: loaded 2 of 4 in ") && strings.HasSuffix(l, " (not for this machine: d)")
	}
	if !found {
		t.Errorf("no modules summary in %q", lines)
	}
}

// fakeNet is a Network that binds after a delay (or never).
type fakeNet struct {
	links int
	bound chan struct{}
	ntp   []net.IP
	stops int
}

func (f *fakeNet) Links() int             { return f.links }
func (f *fakeNet) Bound() <-chan struct{} { return f.bound }
func (f *fakeNet) NTPServers() []net.IP   { return f.ntp }
func (f *fakeNet) Stop()                  { f.stops++ }

func TestNetworkAndTime(t *testing.T) {
	tests := []struct {
		name      string
		net       *fakeNet
		sntpErr   error
		sntpFast  bool // the error comes at once, not at the deadline
		wantLines []string
		notLines  []string
		wantStep  bool
	}{
		{
			name:      "lease, then clock stepped",
			net:       &fakeNet{links: 1, bound: closed(), ntp: []net.IP{net.IPv4(10, 0, 2, 2)}},
			wantLines: []string{"time: stepped clock by +1h2m3s (server 10.0.2.2)", "shutdown: released DHCP leases"},
			wantStep:  true,
		},
		{
			name:      "SNTP fails at once",
			net:       &fakeNet{links: 1, bound: closed()},
			sntpErr:   errors.New("lookup pool.ntp.org: no such host"),
			sntpFast:  true,
			wantLines: []string{"time: no SNTP answer (lookup pool.ntp.org: no such host)"},
			notLines:  []string{"time: no SNTP answer after 50ms"},
		},
		{
			name:      "no lease, no SNTP answer",
			net:       &fakeNet{links: 1, bound: make(chan struct{})},
			sntpErr:   errors.New("timeout"),
			wantLines: []string{"network: no lease after 30s; starting the app anyway", "time: no SNTP answer after 50ms"},
		},
		{
			// A machine without a NIC must say why it has no network, and
			// not claim to have released leases it never had.
			name:      "no network interface",
			net:       &fakeNet{links: 0, bound: make(chan struct{})},
			wantLines: []string{"network: no network interface", "app: started /bin/hello (pid 101)"},
			notLines:  []string{"network: no lease after 30s; starting the app anyway", "shutdown: released DHCP leases"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := disks()
			sys.procs = []proc{{exit: exit(0)}}
			h := newHarness(sys)
			var asked []string
			h.deps.StartNetwork = func(ctx context.Context, host string) (Network, error) { return tt.net, nil }
			h.deps.SNTP = func(ctx context.Context, servers []string) (sntp.Result, error) {
				asked = servers
				if tt.sntpErr != nil {
					if !tt.sntpFast {
						<-ctx.Done()
					}
					return sntp.Result{}, tt.sntpErr
				}
				return sntp.Result{Offset: time.Hour + 2*time.Minute + 3*time.Second, Server: "10.0.2.2:123"}, nil
			}
			cfg := config()
			cfg.Network = baked.Network{DHCP: true, Wait: baked.Duration(30 * time.Second)}
			cfg.Time = baked.Time{NTP: []string{"pool.ntp.org"}, Wait: baked.Duration(5 * time.Millisecond)}
			if tt.sntpErr != nil {
				cfg.Time.Wait = baked.Duration(50 * time.Millisecond)
			}
			h.run(t, cfg)
			lines := h.out.Lines()
			has(t, "console", lines, tt.wantLines)
			for _, l := range lines {
				if slices.Contains(tt.notLines, l) {
					t.Errorf("console has %q", l)
				}
			}
			if tt.wantStep {
				has(t, "calls", sys.Calls(), []string{"step 1h2m3s", "start /bin/hello -v GREETING=hi HOME=/root LOGNAME=root PATH=" + defaultPath + " TINYBOOT_ISO=/iso TINYBOOT_PERSISTENT=/persistent USER=root"})
				if strings.Join(asked, ",") != "pool.ntp.org,10.0.2.2" {
					t.Errorf("asked %v", asked)
				}
			}
			if tt.net.stops != 1 {
				t.Errorf("network stopped %d times", tt.net.stops)
			}
		})
	}
}

func closed() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func TestPanicReboots(t *testing.T) {
	sys := disks()
	sys.panicMod = true
	h := newHarness(sys)
	cfg := config()
	cfg.Modules = []baked.Module{{Name: "a", Path: "a.ko"}}
	h.run(t, cfg)
	calls := sys.Calls()
	if last := calls[len(calls)-1]; last != "reboot reboot" {
		t.Errorf("last call %q", last)
	}
	has(t, "console", h.out.Lines(), []string{"shutdown: rebooting"})
	if sys.started != 0 {
		t.Error("app started after a panic")
	}
}

func TestLoadSpec(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := baked.Marshal(config())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, wantErr string
	}{
		{"good", write("good.json", string(good)), ""},
		{"missing", filepath.Join(dir, "nope.json"), "no such file"},
		{"not json", write("bad.json", "{"), "unexpected end"},
		{"wrong version", write("v2.json", `{"version":2,"app":{"path":"/bin/x"}}`), "version 2"},
		{"no app", write("noapp.json", `{"version":1}`), "app.path is empty"},
		{"bad duration", write("dur.json", `{"version":1,"app":{"path":"/x","stop_timeout":"soon"}}`), "soon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadSpec(tt.path)
			if tt.wantErr == "" {
				if err != nil || cfg.App.Path != "/bin/hello" {
					t.Fatalf("LoadSpec = %+v, %v", cfg, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// The boot line reports DHCP's own time to the first lease, not the
// storage wait it overlapped with.
func TestBootLineNetworkTime(t *testing.T) {
	iso := blkid.Info{Type: blkid.ISO9660, Label: "HELLO"}
	sys := &fakeSys{devs: [][]BlockDevice{{{Name: "sr0"}}}, info: map[string]blkid.Info{"sr0": iso}, procs: []proc{{exit: exit(0)}}}
	h := newHarness(sys)
	h.deps.StartNetwork = func(ctx context.Context, host string) (Network, error) {
		return &fakeNet{links: 1, bound: closed()}, nil
	}
	cfg := config()
	cfg.Network = baked.Network{DHCP: true, Wait: baked.Duration(30 * time.Second)}
	cfg.Time = baked.Time{}
	h.run(t, cfg)
	re := regexp.MustCompile(`^boot: ready in \S+ \(modules \S+, storage (\S+), network (\S+), time \S+\)$`)
	for _, l := range h.out.Lines() {
		m := re.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		stor, err1 := time.ParseDuration(m[1])
		netw, err2 := time.ParseDuration(m[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("unparsable boot line %q", l)
		}
		if stor < 10*time.Second || netw >= time.Second {
			t.Errorf("%q: want storage ≥ 10s (the volume wait) and network < 1s (bound at once)", l)
		}
		return
	}
	t.Fatalf("no boot line in %q", h.out.Lines())
}

// An app that runs from the ISO (app.run_from: iso) starts from /iso once
// the ISO is mounted; without the ISO the machine powers off saying why,
// instead of failing to execute it over and over.
func TestAppOnISO(t *testing.T) {
	iso := blkid.Info{Type: blkid.ISO9660, Label: "HELLO"}
	for _, tt := range []struct {
		name      string
		devs      [][]BlockDevice
		wantStart bool
		wantLine  string
	}{
		{"ISO there", [][]BlockDevice{{{Name: "sr0"}, {Name: "vdb"}}}, true, "iso: mounted /dev/sr0 at /iso (volume HELLO)"},
		{"no ISO", [][]BlockDevice{{{Name: "vdb"}}}, false, "app: /iso/tinyboot/hello is on the ISO (app.run_from: iso), and no ISO is mounted; powering off"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sys := &fakeSys{devs: tt.devs, info: map[string]blkid.Info{"sr0": iso, "vdb": {Type: blkid.Btrfs, Label: "tinyboot"}}, procs: []proc{{exit: exit(0)}}}
			h := newHarness(sys)
			cfg := config()
			cfg.App.Path = "/iso/tinyboot/hello"
			h.run(t, cfg)
			has(t, "console", h.out.Lines(), []string{tt.wantLine})
			if got := sys.started > 0; got != tt.wantStart {
				t.Errorf("app started %v, want %v; console:\n%s", got, tt.wantStart, strings.Join(h.out.Lines(), "\n"))
			}
			if !tt.wantStart {
				calls := sys.Calls()
				if last := calls[len(calls)-1]; last != "reboot poweroff" {
					t.Errorf("last call %q, want the power-off", last)
				}
			}
		})
	}
}
