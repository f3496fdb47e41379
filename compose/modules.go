package compose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/compose/kmod"
	"github.com/tinyboot/tinyboot/compose/plan"
	"github.com/tinyboot/tinyboot/internal/arch"
	"github.com/tinyboot/tinyboot/internal/cache"
	"github.com/tinyboot/tinyboot/spec"
)

// BaseModules are the base modules of r's (first) architecture; see
// BaseModulesArch.
func BaseModules(r *spec.Resolved) []string { return BaseModulesArch(r, r.Arch()) }

// BaseModulesArch are the modules the spec's features need on
// architecture a, before the spec's own modules: the boot medium, isofs
// for /iso, the virtio transports that no virtio driver lists as a
// dependency, the persistent volume's filesystem, the NIC drivers QEMU and
// common clouds use when DHCP is on or interfaces are configured, the
// power button the agent turns into a clean shutdown, the virtio RNG (so
// that an app's first getrandom does not wait for the kernel to gather
// entropy from its own clock, a second or more under emulation), the
// real-time clock
// where it is a module, and the machine's watchdogs unless the watchdog is
// off. What differs per architecture is in archModules.
func BaseModulesArch(r *spec.Resolved, a arch.Arch) []string {
	s := r.Spec()
	m := archModules[a.Name]
	mods := append([]string{"virtio_pci", "isofs"}, m.base...)
	mods = append(mods, m.always...)
	mods = append(mods,
		"sr_mod", "virtio_scsi",
		"virtio_blk", "sd_mod", "nvme",
		"xhci_pci", "usb_storage", "uas",
		"button",
		"virtio_console",                 // the guest agent's virtio-serial port
		"virtio_rng",                     // seeds the kernel's CRNG at once where the VM offers entropy
		"qemu_fw_cfg",                    // per-instance env in the fw_cfg entry opt/tinyboot/env
		"vfat", "nls_cp437", "nls_ascii", // NoCloud drives made as vfat (codepage, iocharset)
	)
	if s.Persistent != nil {
		mods = append(mods, s.Persistent.FS)
	}
	if r.DHCP() || len(s.Network.Interfaces) > 0 {
		mods = append(mods, "virtio_net")
		mods = append(mods, m.nics...)
	}
	if w := s.Watchdog; w == nil || w.Enabled == nil || *w.Enabled {
		mods = append(mods, m.watchdogs...)
	}
	return mods
}

// FormatModules are the modules an output format's machines need on top
// of the base set: for gce images Google Compute Engine's gVNIC and
// virtio NICs, even with DHCP off (its virtio-scsi disk controller is in
// the base set already).
func FormatModules(formats []string) []string {
	if slices.Contains(formats, spec.FormatGCE) {
		return []string{"gve", "virtio_net"}
	}
	return nil
}

// archModuleSet is what one architecture adds to the base modules.
type archModuleSet struct {
	base, nics, watchdogs []string
	// always are loaded at boot whatever the hardware: handlers no device
	// asks for by an alias.
	always []string
}

// archModules are the base modules that differ per architecture, found by
// booting Debian's kernel of each under QEMU and reading what its devices
// bind to (see e2e's coldplug and arm64 tests).
var archModules = map[string]archModuleSet{
	// A PC: virtio over MMIO for microVMs (QEMU -M microvm, Firecracker),
	// the CD over AHCI (q35) or IDE (i440fx), Intel NICs, and the
	// watchdogs of QEMU (i6300esb) and Intel chipsets (iTCO_wdt).
	"amd64": {
		base:      []string{"virtio_mmio", "ahci", "ata_piix"},
		nics:      []string{"e1000", "e1000e"},
		watchdogs: []string{"i6300esb", "iTCO_wdt"},
	},
	// QEMU's virt machine and arm64 servers: virtio over MMIO as well as
	// PCI, the PL031 RTC, the power key through the ACPI generic event
	// device (button) or, with a device tree, gpio-keys on the PL061, and
	// the SBSA generic watchdog of servers (QEMU's i6300esb on PCI too).
	"arm64": {
		base:      []string{"virtio_mmio", "ahci", "rtc_pl031", "gpio_keys", "gpio_pl061"},
		nics:      []string{"e1000e"},
		watchdogs: []string{"sbsa_gwdt", "i6300esb"},
		// evdev: gpio-keys reports the power key through an event node,
		// which only evdev makes (the agent reads it; see agent/powerkey).
		always: []string{"evdev"},
	},
}

// resolveModules turns the base set and the spec's modules into a load
// order. The answer is cached per module tree and list of names, so warm
// builds of an unchanged spec never load the tree's index.
// Cache kinds of the module resolver: resolved load orders and module
// indexes.
const (
	modresKind   = "modres"
	modindexKind = "modindex"
)

func resolveModules(r *spec.Resolved, a arch.Arch, formats []string, k *kernel.Kernel, store *cache.Cache, log *slog.Logger) ([]plan.Module, error) {
	tree, err := newModuleTree(k)
	if err != nil {
		return nil, fmt.Errorf("modules: reading the module tree %s of kernel %s: %w", k.ModulesDir, k.Version, err)
	}
	base := append(BaseModulesArch(r, a), FormatModules(formats)...)
	extra := r.Spec().Modules
	// "coldplug": the entries carry the agent's alias table since then.
	entry := cache.Key(modresKind, "coldplug", tree.key, strings.Join(base, ","), strings.Join(extra, ",")) + ".json"
	var cached []plan.Module
	if data, ok := store.Get(modresKind, entry); ok && json.Unmarshal(data, &cached) == nil && len(cached) > 0 {
		return cached, nil
	}

	idx, err := tree.index(store)
	if err != nil {
		return nil, fmt.Errorf("modules: reading the module tree %s of kernel %s: %w; the kernel's files are damaged: unpack or download it again (or clear the cache with rm -r %s)", k.ModulesDir, k.Version, err, filepath.Join(store.Root(), kernel.KernelsKind))
	}
	// A base module this kernel lacks entirely may be built in without a
	// modules.builtin entry (a custom kernel); only the spec's own modules
	// must exist.
	var names []string
	for _, m := range base {
		if _, ok := idx.Module(m); ok || idx.IsBuiltin(m) {
			names = append(names, m)
		} else {
			log.Debug("base module not in kernel", "module", m)
		}
	}
	names = append(names, extra...)
	mods, err := idx.Resolve(names)
	if err != nil {
		return nil, &modulesError{version: k.Version, err: err}
	}
	out := coldplugTable(idx, mods, append(slices.Clone(extra), archAlways(idx, a)...))
	if data, err := json.Marshal(out); err == nil && len(out) > 0 {
		_ = store.Put(modresKind, entry, data) // only speed is lost if this fails
	}
	return out, nil
}

// modulesError is a module resolution that failed: each problem kmod
// found, on its own line, with what the user can do about it.
type modulesError struct {
	version string
	err     error
}

func (e *modulesError) Error() string {
	errs := []error{e.err}
	if j, ok := e.err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	lines := make([]string, len(errs))
	for i, err := range errs {
		lines[i] = err.Error() + "; " + moduleFix(err)
	}
	if len(lines) == 1 {
		return fmt.Sprintf("modules: kernel %s: %s", e.version, lines[0])
	}
	return fmt.Sprintf("modules: kernel %s:\n  %s", e.version, strings.Join(lines, "\n  "))
}

func (e *modulesError) Unwrap() error { return e.err }

// moduleFix says what to do about one kmod resolution error.
func moduleFix(err error) string {
	var unknown *kmod.UnknownModuleError
	var missing *kmod.MissingDependencyError
	var cycle *kmod.CycleError
	switch {
	case errors.As(err, &unknown):
		return fmt.Sprintf("fix the name in modules (as modinfo or lsmod write it), or remove %s", unknown.Name)
	case errors.As(err, &missing):
		return fmt.Sprintf("remove %s from modules, or use a kernel that ships %s", missing.Module, missing.Dependency)
	case errors.As(err, &cycle):
		return "the kernel's modules are inconsistent: use another kernel build"
	}
	return "check the modules list"
}

// indexEntry is one module in the cached index.
type indexEntry struct {
	Path string     `json:"path"`
	Info *kmod.Info `json:"info"`
}

type indexFile struct {
	Modules []indexEntry `json:"modules"`
	Builtin []string     `json:"builtin"`
}

// moduleTree is a kernel's module directory and a key for its content.
type moduleTree struct {
	k     *kernel.Kernel
	key   string
	files []string // module files relative to ModulesDir; nil until listed
}

// newModuleTree keys a cached kernel tree by its content id, for free; a
// user's modules_dir is keyed by its files' names, sizes and times, so an
// edited tree is indexed again.
func newModuleTree(k *kernel.Kernel) (*moduleTree, error) {
	t := &moduleTree{k: k}
	if k.TreeID != "" {
		t.key = "tree " + k.TreeID
		return t, nil
	}
	stamp, err := t.list(true)
	if err != nil {
		return nil, err
	}
	t.key = fmt.Sprintf("dir %x", sha256Bytes(append([]byte(k.ModulesDir+"\n"), stamp...)))
	return t, nil
}

// list finds the module files, and with stamp their sizes and times.
func (t *moduleTree) list(stamp bool) ([]byte, error) {
	var buf bytes.Buffer
	t.files = []string{}
	err := filepath.WalkDir(t.k.ModulesDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == t.k.ModulesDir {
				return fs.SkipAll
			}
			return err
		}
		if d.Type().IsRegular() && isModuleFile(p) {
			rel, _ := filepath.Rel(t.k.ModulesDir, p)
			t.files = append(t.files, rel)
			if stamp {
				if fi, err := d.Info(); err == nil {
					fmt.Fprintf(&buf, "%s %d %d\n", rel, fi.Size(), fi.ModTime().UnixNano())
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(t.files)
	if fi, err := os.Stat(filepath.Join(t.k.ModulesDir, "modules.builtin")); err == nil && stamp {
		fmt.Fprintf(&buf, "builtin %d %d\n", fi.Size(), fi.ModTime().UnixNano())
	}
	return buf.Bytes(), nil
}

// index reads every module's .modinfo, once per tree: the index is cached
// under the tree's key.
func (t *moduleTree) index(store *cache.Cache) (*kmod.Index, error) {
	k := t.k
	entry := cache.Key(modindexKind, t.key) + ".json"
	builtinPath := filepath.Join(k.ModulesDir, "modules.builtin")
	var idxFile indexFile
	if b, ok := store.Get(modindexKind, entry); ok && json.Unmarshal(b, &idxFile) == nil {
		if idx, err := buildIndex(idxFile); err == nil {
			return idx, nil
		}
		idxFile = indexFile{}
	}
	if t.files == nil {
		if _, err := t.list(false); err != nil {
			return nil, err
		}
	}
	for _, rel := range t.files {
		f, err := os.Open(filepath.Join(k.ModulesDir, rel))
		if err != nil {
			return nil, err
		}
		data, err := kmod.Decompress(rel, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		info, err := kmod.ParseModinfo(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		info.Fields = nil // only what resolution reads is cached
		idxFile.Modules = append(idxFile.Modules, indexEntry{Path: filepath.ToSlash(rel), Info: info})
	}
	if f, err := os.Open(builtinPath); err == nil {
		idxFile.Builtin, err = kmod.ParseBuiltin(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("modules.builtin: %w", err)
		}
	}
	if b, err := json.Marshal(idxFile); err == nil {
		_ = store.Put(modindexKind, entry, b) // only speed is lost if this fails
	}
	return buildIndex(idxFile)
}

func buildIndex(f indexFile) (*kmod.Index, error) {
	idx := kmod.NewIndex()
	for _, e := range f.Modules {
		if err := idx.Add(e.Path, e.Info); err != nil {
			return nil, err
		}
	}
	idx.MarkBuiltin(f.Builtin)
	return idx, nil
}

func isModuleFile(p string) bool {
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return false
}

// archAlways are the modules of a that load whatever the hardware, those
// this kernel has as modules.
func archAlways(idx *kmod.Index, a arch.Arch) []string {
	var out []string
	for _, m := range archModules[a.Name].always {
		if _, ok := idx.Module(m); ok {
			out = append(out, m)
		}
	}
	return out
}
