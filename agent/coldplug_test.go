package agent

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/agent/coldplug"
	"github.com/tinyboot/tinyboot/agent/console"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// coldplugModules is a baked table with real names and aliases of
// Debian's modules (see agent/coldplug's tests for more).
func coldplugModules() []baked.Module {
	return []baked.Module{
		{Name: "cdrom", Path: "kernel/cdrom.ko"},
		{Name: "isofs", Path: "kernel/isofs.ko", Needs: []string{"cdrom"}, Aliases: []string{"iso9660", "fs-iso9660"}},
		{Name: "scsi_mod", Path: "kernel/scsi_mod.ko"},
		{Name: "libata", Path: "kernel/libata.ko", Needs: []string{"scsi_mod"}},
		{Name: "ahci", Path: "kernel/ahci.ko", Needs: []string{"libata"}, Aliases: []string{"pci:v*d*sv*sd*bc01sc06i01*"}},
		{Name: "sr_mod", Path: "kernel/sr_mod.ko", Needs: []string{"cdrom", "scsi_mod"}, Aliases: []string{"scsi:t-0x05*"}},
		{Name: "nvme", Path: "kernel/nvme.ko", Aliases: []string{"pci:v*d*sv*sd*bc01sc08i02*"}},
		{Name: "xhci_pci", Path: "kernel/xhci-pci.ko", Aliases: []string{"pci:v*d*sv*sd*bc0Csc03i30*"}},
		{Name: "virtio_blk", Path: "kernel/virtio_blk.ko", Aliases: []string{"virtio:d00000002v*"}},
		{Name: "virtio_net", Path: "kernel/virtio_net.ko", Aliases: []string{"virtio:d00000001v*"}},
		{Name: "btrfs", Path: "kernel/btrfs.ko", Aliases: []string{"devname:btrfs-control", "fs-btrfs"}},
		{Name: "e1000e", Path: "kernel/e1000e.ko", Aliases: []string{"pci:v00008086d000010D3sv*sd*bc*sc*i*"}},
		{Name: "dm_mod", Path: "kernel/dm-mod.ko", Always: true, Aliases: []string{"devname:mapper/control"}},
	}
}

func TestColdplug(t *testing.T) {
	sys := disks()
	sys.driver = map[string]string{
		"sr0": "/lib/modules/6.1.0-56-amd64/kernel/sr_mod.ko",
		"vdb": "/lib/modules/6.1.0-56-amd64/kernel/virtio_blk.ko",
	}
	events := make(chan coldplug.Uevent, 4)
	sys.procs = []proc{{exit: exit(0), onStarted: func() {}}}
	h := newHarness(sys)
	h.deps.ModuleJobs = 2
	scans := 0
	h.deps.Hotplug = &Hotplug{
		Devices: func() ([]coldplug.Device, error) {
			scans++
			if scans > 1 {
				// What the first round's drivers added.
				return []coldplug.Device{
					{Name: "0000:00:02.0", Modalias: "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00"},
					{Name: "virtio0", Modalias: "virtio:d00000002v00001AF4"},
				}, nil
			}
			// A device announced while the boot scan runs is both listed
			// and sent: it must load once.
			events <- coldplug.Uevent{Action: "add", DevPath: "/devices/pci0000:00/0000:00:1f.2", Modalias: "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"}
			return []coldplug.Device{
				{Name: "0000:00:02.0", Modalias: "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00"},
				{Name: "0000:00:1f.2", Modalias: "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"},
				{Name: "0000:00:00.0", Modalias: "pci:v00008086d000029C0sv00001AF4sd00001100bc06sc00i00"},
				{Name: "LNXPWRBN:00", Modalias: "acpi:LNXPWRBN:"},
			}, nil
		},
		Uevents: func(ctx context.Context) (<-chan coldplug.Uevent, error) { return events, nil },
	}
	// The boot scans again as modules come in, until nothing new: at
	// least twice (the second finds what the first's drivers added), and
	// never without bound.
	defer func() {
		if scans < 2 || scans > settleScans {
			t.Errorf("%d scans of the devices, want 2 to %d", scans, settleScans)
		}
	}()
	// The CD appears once ahci is in (its uevent arrives while the boot
	// still loads modules, so sr_mod is in the boot's summary); the
	// hot-added NIC while the app runs.
	sys.onLoad = func(path string) {
		if path == "/lib/modules/6.1.0-56-amd64/kernel/ahci.ko" {
			events <- coldplug.Uevent{Action: "add", DevPath: "/devices/pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0", Modalias: "scsi:t-0x05"}
		}
	}
	sys.procs[0].onStarted = func() {
		events <- coldplug.Uevent{Action: "remove", DevPath: "/devices/x/virtio9", Modalias: "virtio:d00000001v00001AF4"}
		events <- coldplug.Uevent{Action: "add", DevPath: "/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/virtio3", Modalias: "virtio:d00000001v00001AF4"}
		waitLine(t, h.out, "virtio_net (virtio3)")
	}
	cfg := config()
	cfg.Modules = coldplugModules()
	h.run(t, cfg)

	// The test clock runs fast: durations vary.
	var lines []string
	for _, l := range h.out.Lines() {
		lines = append(lines, durRE.ReplaceAllString(l, " in D"))
	}
	has(t, "console", lines, []string{
		"modules: loaded 8 of 13 in D: cdrom, scsi_mod, libata, ahci (0000:00:1f.2), sr_mod (1:0:0:0), virtio_blk (virtio0), e1000e (0000:00:02.0), dm_mod (spec)",
	})
	wantAfter := []string{
		"modules: loaded 1 in D: isofs (iso9660)",
		"modules: loaded 1 in D: btrfs (btrfs)",
		"modules: loaded 1 in D: virtio_net (virtio3)",
	}
	for _, w := range wantAfter {
		found := false
		for _, l := range lines {
			found = found || l == w
		}
		if !found {
			t.Errorf("console lacks %q:\n%s", w, strings.Join(lines, "\n"))
		}
	}
	// isofs comes only when an iso9660 volume is to be mounted; cdrom is
	// loaded already by then.
	has(t, "calls", sys.Calls(), []string{"load /lib/modules/6.1.0-56-amd64/kernel/isofs.ko", "mount /dev/sr0 /iso iso9660 0x1"})
	has(t, "calls", sys.Calls(), []string{"load /lib/modules/6.1.0-56-amd64/kernel/btrfs.ko", "mount /dev/vdb /persistent btrfs 0x0"})
	counts := map[string]int{}
	for _, c := range sys.Calls() {
		if strings.HasPrefix(c, "load ") {
			counts[c]++
		}
	}
	for c, n := range counts {
		if n > 1 {
			t.Errorf("%s %d times", c, n)
		}
	}
	for _, never := range []string{"nvme", "xhci-pci"} {
		if counts["load /lib/modules/6.1.0-56-amd64/kernel/"+never+".ko"] > 0 {
			t.Errorf("%s loaded on a machine without its device", never)
		}
	}
}

var durRE = regexp.MustCompile(` in [0-9.]+(ms|s|µs)`)

// waitLine waits for a console line containing prefix.
func waitLine(t *testing.T, out *consoleBuf, prefix string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range out.Lines() {
			if strings.Contains(l, prefix) {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Errorf("no console line with %q after 5s", prefix)
}

func TestModprobeHelper(t *testing.T) {
	cfg := config()
	cfg.Modules = coldplugModules()
	tests := []struct {
		name      string
		args      []string
		fail      map[string]error
		reported  bool // the request was reported unknown before
		wantCode  int
		wantLoads []string
		wantLine  string
	}{
		{name: "filesystem alias", args: []string{"-q", "--", "fs-iso9660"}, wantLoads: []string{"cdrom.ko", "isofs.ko"},
			wantLine: "modules: loaded 2 in 0s: cdrom, isofs (kernel: fs-iso9660)"},
		{name: "module name, old kernel's argv", args: []string{"-q", "virtio-blk"}, wantLoads: []string{"virtio_blk.ko"},
			wantLine: "modules: loaded 1 in 0s: virtio_blk (kernel: virtio-blk)"},
		{name: "loaded already", args: []string{"-q", "--", "btrfs"}, fail: map[string]error{"btrfs.ko": syscall.EEXIST}, wantLoads: []string{"btrfs.ko"},
			wantLine: "modules: loaded 1 in 0s: btrfs (kernel: btrfs)"},
		{name: "load fails", args: []string{"-q", "--", "nvme"}, fail: map[string]error{"nvme.ko": syscall.ENOEXEC}, wantCode: 1, wantLoads: []string{"nvme.ko"},
			wantLine: "modules: nvme: exec format error"},
		{name: "unknown, first time", args: []string{"-q", "--", "net-pf-10"}, wantCode: 1, wantLine: "modules: kernel asked for net-pf-10: not in the image"},
		{name: "unknown, again", args: []string{"-q", "--", "net-pf-10"}, reported: true, wantCode: 1},
		{name: "remove is not supported", args: []string{"-r", "btrfs"}, wantCode: 2, wantLine: `modules: kernel request "-r btrfs": unsupported option -r (this is tinyboot's module helper: it only loads)`},
		{name: "no name", args: []string{"-q", "--"}, wantCode: 2, wantLine: `modules: kernel request "-q --": want exactly one module name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &consoleBuf{}
			var loads []string
			load := func(p, params string) error {
				base := p[strings.LastIndex(p, "/")+1:]
				loads = append(loads, base)
				return tt.fail[base]
			}
			code := modprobe(tt.args, cfg, load, console.New(out, func() time.Duration { return 0 }), fixedClock{}, func(string) bool { return !tt.reported })
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d", code, tt.wantCode)
			}
			if strings.Join(loads, " ") != strings.Join(tt.wantLoads, " ") {
				t.Errorf("loaded %q, want %q", loads, tt.wantLoads)
			}
			lines := out.Lines()
			if tt.wantLine == "" && len(lines) > 0 || tt.wantLine != "" && (len(lines) == 0 || lines[0] != tt.wantLine) {
				t.Errorf("console %q, want %q", lines, tt.wantLine)
			}
		})
	}
}

// fixedClock never moves.
type fixedClock struct{}

func (fixedClock) Now() time.Time                         { return time.Unix(0, 0) }
func (fixedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// A device a fast driver adds gets its module while a slow driver of the
// same scan is still in its init: the boot looks at the devices again as
// each module comes in, not after the slowest of a round.
func TestColdplugNotBehindSlowDriver(t *testing.T) {
	sys := disks()
	sys.procs = []proc{{exit: exit(0)}}
	const dir = "/lib/modules/6.1.0-56-amd64/kernel/"
	blkSeen := false
	sys.onLoad = func(path string) {
		if path != dir+"ahci.ko" {
			return
		}
		// Real time: the test's clock only moves with the agent's timers.
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if slices.Contains(sys.Calls(), "load "+dir+"virtio_blk.ko") {
				blkSeen = true
				return
			}
		}
	}
	h := newHarness(sys)
	h.deps.Hotplug = &Hotplug{
		Devices: func() ([]coldplug.Device, error) {
			devs := []coldplug.Device{
				{Name: "0000:00:1f.2", Modalias: "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"},
				{Name: "0000:00:02.0", Modalias: "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00"},
			}
			// The fast driver's device (standing in for virtio_pci's).
			if slices.Contains(sys.Calls(), "load "+dir+"e1000e.ko") {
				devs = append(devs, coldplug.Device{Name: "virtio0", Modalias: "virtio:d00000002v00001AF4"})
			}
			return devs, nil
		},
		Uevents: func(ctx context.Context) (<-chan coldplug.Uevent, error) { return nil, nil },
	}
	cfg := config()
	cfg.Modules = coldplugModules()
	h.run(t, cfg)
	if !blkSeen {
		t.Errorf("virtio_blk was not loaded while ahci was in its init; calls:\n  %s", strings.Join(sys.Calls(), "\n  "))
	}
}
