package compose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/compose/kmod"
	"github.com/tinyboot/tinyboot/internal/fsutil"
	"github.com/tinyboot/tinyboot/spec"
)

// resolvedModule is a module to ship, decompressed, in load order.
type resolvedModule struct {
	Name string
	Path string // relative to lib/modules/<version>, always .ko
	Data []byte
}

// BaseModules are the modules the spec's features need, before the spec's
// own modules: the boot medium (CD over AHCI, IDE or virtio-scsi; a USB
// stick; a raw virtio or NVMe disk), isofs for /iso, the virtio PCI
// transport that no virtio driver lists as a dependency, the persistent
// volume's filesystem, the NIC drivers QEMU and common clouds use when DHCP
// is on, and the ACPI power button the agent turns into a clean shutdown.
func BaseModules(s *spec.Spec) []string {
	mods := []string{
		"virtio_pci", "isofs",
		"ahci", "ata_piix", "sr_mod", "virtio_scsi",
		"virtio_blk", "sd_mod", "nvme",
		"xhci_pci", "usb_storage", "uas",
		"button",
	}
	if s.Persistent != nil {
		mods = append(mods, s.Persistent.FS)
	}
	if s.Network.DHCP == nil || *s.Network.DHCP {
		mods = append(mods, "virtio_net", "e1000", "e1000e")
	}
	return mods
}

func (b *builder) resolveModules(k *kernel.Kernel) ([]resolvedModule, error) {
	idx, err := loadIndex(k, b.opts.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("modules: reading the module tree %s of kernel %s: %w; the kernel's files are damaged: unpack or download it again (or clear the cache with rm -r %s)", k.ModulesDir, k.Version, err, filepath.Join(b.opts.CacheDir, "kernels"))
	}
	// A base module this kernel lacks entirely may be built in without a
	// modules.builtin entry (a custom kernel); only the spec's own modules
	// must exist.
	var names []string
	for _, m := range BaseModules(b.spec) {
		if _, ok := idx.Module(m); ok || idx.IsBuiltin(m) {
			names = append(names, m)
		} else {
			b.log.Debug("base module not in kernel", "module", m)
		}
	}
	names = append(names, b.spec.Modules...)
	mods, err := idx.Resolve(names)
	if err != nil {
		return nil, &modulesError{version: k.Version, err: err}
	}
	out := make([]resolvedModule, 0, len(mods))
	for _, m := range mods {
		f, err := os.Open(filepath.Join(k.ModulesDir, m.Path))
		if err != nil {
			return nil, fmt.Errorf("modules: %s: %w", m.Name, err)
		}
		data, err := kmod.Decompress(m.Path, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("modules: %s (%s): %w; the kernel's module file is damaged: unpack or download the kernel again", m.Name, m.Path, err)
		}
		out = append(out, resolvedModule{Name: m.Name, Path: modulePath(m.Path), Data: data})
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

// loadIndex reads every module's .modinfo under k.ModulesDir, once: the
// index is cached keyed by the tree's file names, sizes and times, so warm
// builds read one JSON file instead of thousands of .ko files.
func loadIndex(k *kernel.Kernel, cacheDir string) (*kmod.Index, error) {
	var files []string
	stamp := &bytes.Buffer{}
	err := filepath.WalkDir(k.ModulesDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == k.ModulesDir {
				return fs.SkipAll
			}
			return err
		}
		if d.Type().IsRegular() && isModuleFile(p) {
			rel, _ := filepath.Rel(k.ModulesDir, p)
			files = append(files, rel)
			if fi, err := d.Info(); err == nil {
				fmt.Fprintf(stamp, "%s %d %d\n", rel, fi.Size(), fi.ModTime().UnixNano())
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	builtinPath := filepath.Join(k.ModulesDir, "modules.builtin")
	if fi, err := os.Stat(builtinPath); err == nil {
		fmt.Fprintf(stamp, "builtin %d %d\n", fi.Size(), fi.ModTime().UnixNano())
	}
	key := fmt.Sprintf("%x", sha256Bytes(append([]byte(k.ModulesDir+"\n"), stamp.Bytes()...)))[:24]
	cachePath := filepath.Join(cacheDir, "modindex", key+".json")

	var idxFile indexFile
	if b, err := os.ReadFile(cachePath); err == nil && json.Unmarshal(b, &idxFile) == nil {
		if idx, err := buildIndex(idxFile); err == nil {
			return idx, nil
		}
		idxFile = indexFile{}
	}
	for _, rel := range files {
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
		_ = fsutil.WriteFileAtomic(cachePath, b) // only speed is lost if this fails
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
