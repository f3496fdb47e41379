// Package compose turns a spec into an image. Its resolving step turns a
// spec with defaults applied (spec.Resolved) and the lock's pins into a
// plan.Plan: the kernel, the modules in load order, every host input and
// every requested output. The assembling step, package assemble, builds
// the outputs from the plan alone.
package compose

import (
	"path"
	"strings"

	"github.com/tinyboot/tinyboot/spec"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// AppPath is where the app lives inside the image: /bin/NAME in the
// initramfs, or under app.run_from: iso the ISO's file AppISOPath, seen
// by the agent below /iso.
func AppPath(name, runFrom string) string {
	if runFrom == spec.RunFromISO {
		return baked.ISOMount + AppISOPath(name)
	}
	return "/bin/" + name
}

// AppISOPath is the app's path on the ISO under app.run_from: iso.
func AppISOPath(name string) string { return spec.AppISODir + "/" + name }

// VolumeID derives the ISO volume identifier from the spec's name:
// ISO9660 d-characters (A-Z, 0-9, _), at most 32 of them.
func VolumeID(name string) string {
	id := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		}
		return '_'
	}, name)
	if len(id) > 32 {
		id = id[:32]
	}
	if id == "" {
		id = "TINYBOOT"
	}
	return id
}

// defaultCmdline is what every image boots with unless the spec's
// kernel.cmdline sets the same key: the serial console last so that it is
// /dev/console (QEMU -nographic, cloud serial logs), quiet so the console
// shows the agent's steps, and a reboot 10 s after a kernel panic so an
// unattended machine comes back.
var defaultCmdline = []string{"console=tty0", "console=ttyS0,115200", "quiet", "panic=10"}

// Cmdline merges the default words with the spec's: a spec word replaces
// every default with the same key (any console= replaces both consoles;
// loglevel= or debug replaces quiet).
func Cmdline(extra []string) string {
	keyOf := func(w string) string {
		k, _, _ := strings.Cut(w, "=")
		if k == "loglevel" || k == "debug" {
			return "quiet"
		}
		return k
	}
	override := map[string]bool{}
	for _, w := range extra {
		override[keyOf(w)] = true
	}
	var words []string
	for _, w := range defaultCmdline {
		if !override[keyOf(w)] {
			words = append(words, w)
		}
	}
	return strings.Join(append(words, extra...), " ")
}

// Bake makes the baked spec the agent applies: everything resolved, no
// host paths. modules must already be in load order.
func Bake(r *spec.Resolved, kernelVersion string, modules []baked.Module) *baked.Config {
	s := r.Spec()
	c := &baked.Config{
		Version:       baked.Version,
		Name:          s.Name,
		Hostname:      s.Hostname,
		Arch:          r.Arch().Name,
		KernelVersion: kernelVersion,
		Modules:       modules,
		App: baked.App{
			Path:        AppPath(s.Name, s.App.RunFrom),
			Args:        s.App.Args,
			Env:         s.App.Env,
			StopTimeout: baked.Duration(s.App.StopTimeout),
			Restart:     s.App.Restart,
			OnExit:      s.App.OnExit,
		},
		ISO: baked.ISO{VolumeID: VolumeID(s.Name)},
		Network: baked.Network{
			DHCP: r.DHCP(),
			Wait: baked.Duration(s.Network.Wait),
		},
		Time: baked.Time{NTP: s.Time.NTP, Wait: baked.Duration(s.Time.Wait)},
	}
	bakeRuntime(s, c)
	bakeNetRuntime(c, s)
	if p := s.Persistent; p != nil {
		c.Persistent = &baked.Persistent{Label: p.Label, FS: p.FS, Required: p.Required, Wait: baked.Duration(p.Wait)}
	}
	return c
}

// modulePath is where a module from the host tree goes in the image,
// always uncompressed (the agent uses finit_module on plain .ko files).
func modulePath(rel string) string {
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		rel = strings.TrimSuffix(rel, ext)
	}
	return path.Clean(rel)
}
