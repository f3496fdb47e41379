package agent

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"syscall"

	"github.com/tinyboot/tinyboot/agent/coldplug"
	"github.com/tinyboot/tinyboot/agent/console"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// ModulesDir is where the initramfs holds kernel modules.
const ModulesDir = "/lib/modules"

// Hotplug is where the agent learns which devices the machine has.
type Hotplug struct {
	// Devices lists the devices present now with their modaliases
	// (coldplug.Scan of /sys).
	Devices func() ([]coldplug.Device, error)
	// Uevents delivers the kernel's uevents until ctx ends
	// (coldplug.Listen); it is opened before Devices is read.
	Uevents func(ctx context.Context) (<-chan coldplug.Uevent, error)
}

// newModuleLoader is the loader of the baked module table: finit_module
// on the image's .ko files, up to jobs at a time.
func newModuleLoader(load func(path, params string) error, kver string, mods []baked.Module, jobs int) *coldplug.Loader {
	return coldplug.NewLoader(coldplug.NewTable(mods), jobs, func(m baked.Module) error {
		return load(path.Join(ModulesDir, kver, m.Path), m.Params)
	})
}

// settleScans bounds the boot's scans of sysfs: one at the start, one
// each time the loads are all done (a safety net for uevents the socket
// dropped), and without uevents one each time a module comes in.
const settleScans = 32

// coldplug loads the modules the machine needs now: the spec's own and
// those whose aliases match a present device's modalias, with their
// dependencies. Each module loads as soon as its device is known, not
// after the slowest driver of an earlier round (ahci waits out its link
// resets while virtio_blk's disk is already being searched): the devices
// the loaded drivers add (virtio_pci makes the virtio devices virtio_net
// and virtio_blk drive) come from the kernel's uevents, and sysfs is
// listed again only when the loads are all done, until that finds
// nothing new — so the NICs exist before DHCP starts. It then keeps
// loading modules for devices the kernel announces until ctx ends (USB
// sticks, hot-added disks and NICs). It loads through a.mods, which boot
// sets.
func (a *agent) coldplug(ctx context.Context) {
	cfg := a.cfg
	if len(cfg.Modules) == 0 {
		return
	}
	start := a.clock.Now()
	table := a.mods.Table()
	why := map[string][]string{} // module -> what asked for it
	seen := map[string]bool{}    // module + "\x00" + device
	var names []string
	ask := func(m, reason string) {
		if seen[m+"\x00"+reason] {
			return
		}
		seen[m+"\x00"+reason] = true
		why[m] = append(why[m], reason)
		if len(why[m]) == 1 {
			names = append(names, m)
		}
	}
	for _, n := range table.AtBoot() {
		ask(n, "spec")
	}
	var events <-chan coldplug.Uevent
	hp := a.deps.Hotplug
	if hp != nil {
		var err error
		if events, err = hp.Uevents(ctx); err != nil {
			a.log.Printf("modules: %v; devices that appear later get no driver", err)
		}
	}
	scans := 0
	scan := func() {
		if hp == nil || scans >= settleScans {
			return
		}
		scans++
		devs, err := hp.Devices()
		if err != nil && scans == 1 {
			a.log.Printf("modules: %v", err)
		}
		for _, d := range devs {
			for _, m := range table.Lookup(d.Modalias) {
				ask(m, d.Name)
			}
		}
	}
	uevent := func(u coldplug.Uevent) {
		if u.Action == "add" && u.Modalias != "" {
			for _, m := range table.Lookup(u.Modalias) {
				ask(m, u.Device())
			}
		}
	}

	// One Load per module, each in its own goroutine, so that a slow one
	// holds up only what needs it.
	type outcome struct {
		res      []coldplug.Result
		panicked any
	}
	done := make(chan outcome)
	pending := 0
	launch := func() {
		for _, n := range names {
			pending++
			go func() {
				var o outcome
				defer func() {
					if r := recover(); r != nil {
						o.panicked = r
					}
					done <- o
				}()
				o.res = a.mods.Load([]string{n})
			}()
		}
		names = nil
	}
	var res []coldplug.Result
	var panicked any
	scan()
	launch()
	for pending > 0 {
		select {
		case o := <-done:
			pending--
			res = append(res, o.res...)
			if o.panicked != nil && panicked == nil {
				panicked = o.panicked
			}
		case u, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			uevent(u)
		}
		if panicked != nil {
			continue // wait for the loads under way, start no more
		}
		if events == nil || pending == 0 {
			scan()
		}
		launch()
	}
	if panicked != nil {
		panic(panicked)
	}
	sort.SliceStable(res, func(i, j int) bool { return table.Order(res[i].Name) < table.Order(res[j].Name) })
	a.log.Printf("%s", moduleSummary(fmt.Sprintf("modules: loaded %%d of %d in %s", table.Len(), console.Dur(a.clock.Now().Sub(start))), res, why, a.log))
	if events != nil {
		a.background(func() { a.hotplug(ctx, events) })
	}
}

// hotplug loads the modules for each device the kernel adds.
func (a *agent) hotplug(ctx context.Context, events <-chan coldplug.Uevent) {
	for {
		var u coldplug.Uevent
		select {
		case <-ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			u = e
		}
		if u.Action != "add" || u.Modalias == "" {
			continue
		}
		mods := a.mods.Table().Lookup(u.Modalias)
		if len(mods) == 0 {
			continue
		}
		start := a.clock.Now()
		res := a.mods.Load(mods)
		if len(res) == 0 {
			continue // loaded already
		}
		why := map[string][]string{}
		for _, m := range mods {
			why[m] = []string{u.Device()}
		}
		a.log.Printf("%s", moduleSummary("modules: loaded %d in "+console.Dur(a.clock.Now().Sub(start)), res, why, a.log))
	}
}

// needFilesystem loads the module of filesystem fstype (iso9660, btrfs,
// ext4) before it is mounted, when the image has one: filesystems are
// loaded when a volume of theirs is found, not at boot.
func (a *agent) needFilesystem(fstype string) {
	if a.mods == nil {
		return
	}
	mods := a.mods.Table().Lookup("fs-" + fstype)
	if len(mods) == 0 {
		return // built in, or not in the image: mount says which
	}
	start := a.clock.Now()
	res := a.mods.Load(mods)
	if len(res) == 0 {
		return
	}
	why := map[string][]string{}
	for _, m := range mods {
		why[m] = []string{fstype}
	}
	a.log.Printf("%s", moduleSummary("modules: loaded %d in "+console.Dur(a.clock.Now().Sub(start)), res, why, a.log))
}

// moduleSummary logs each failed module and returns the summary line:
// head (with a %d for the count loaded), then each loaded module with
// what it was loaded for in parentheses (devices, "spec", a filesystem;
// nothing for a dependency), then the modules that found no hardware.
// ENODEV is the kernel's way for a module to say the machine lacks what
// it drives (a CPU without the instructions a crypto module accelerates):
// expected, so those are named once, not logged as errors. A module that
// is already loaded (EEXIST) counts as loaded; a failure does not stop
// the others, since a missing driver should not stop a machine that may
// not need it.
func moduleSummary(head string, res []coldplug.Result, why map[string][]string, log *console.Logger) string {
	var loaded, absent []string
	for _, r := range res {
		switch {
		case r.Err == nil:
			item := r.Name
			if w := why[r.Name]; len(w) > 0 {
				w = append([]string(nil), w...)
				sort.Strings(w)
				item += " (" + strings.Join(w, " ") + ")"
			}
			loaded = append(loaded, item)
		case errors.Is(r.Err, syscall.ENODEV):
			absent = append(absent, r.Name)
		default:
			log.Printf("modules: %s: %v", r.Name, r.Err)
		}
	}
	s := fmt.Sprintf(head, len(loaded))
	if len(loaded) > 0 {
		s += ": " + strings.Join(loaded, ", ")
	}
	if len(absent) > 0 {
		s += " (not for this machine: " + strings.Join(absent, " ") + ")"
	}
	return s
}

// linuxHotplug reads devices from /sys and uevents from the kernel.
func linuxHotplug(log *console.Logger) *Hotplug {
	return &Hotplug{
		Devices: func() ([]coldplug.Device, error) { return coldplug.Scan("/sys") },
		Uevents: func(ctx context.Context) (<-chan coldplug.Uevent, error) {
			return coldplug.Listen(ctx, func(err error) { log.Printf("modules: %v", err) })
		},
	}
}
