// Package kernel resolves the spec's kernel into a vmlinuz and a module
// tree on the host, from a Debian/Ubuntu package, local or downloaded .deb
// files, or a kernel image and modules directory given as they are.
//
// Unpacked kernels are cached by the sha256 of the packages they came from,
// so a warm build neither asks the archive nor decompresses a .deb again.
package kernel

import (
	"fmt"

	"github.com/tinyboot/tinyboot/compose/debarchive"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Kernel is a resolved kernel.
type Kernel struct {
	// Version is the modules directory's name, e.g. "6.1.0-56-amd64".
	Version string
	// Vmlinuz is the host path of the kernel image.
	Vmlinuz string
	// ModulesDir is the host path of lib/modules/<Version>; it may lack
	// modules entirely for a kernel with everything built in.
	ModulesDir string
	// Packages are the .debs the kernel came from, for the lock file and
	// reports; empty for the vmlinuz form.
	Packages []Package
	// TreeID names the unpacked tree when it is one of the cache's: those
	// are content-addressed and never change once complete, so derived
	// data (the module index, resolved module lists) can be keyed by it.
	// Empty for a user's modules_dir, which may change between builds.
	TreeID string
}

// Package is one .deb a kernel (or the UEFI stub) was resolved from, as
// tinyboot.lock records it.
type Package struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture,omitempty"`
	SHA256       string `json:"sha256"`
	// PoolPath is the .deb's path below the archive URL, so that a locked
	// build with an empty cache fetches it directly, without an index.
	PoolPath string `json:"pool_path,omitempty"`
	// Source is the archive, suite and component it was resolved from.
	Source debarchive.Origin `json:"source,omitzero"`
	// URL is set for packages downloaded from a spec's url entry.
	URL string `json:"url,omitempty"`
}

// FromDir uses a kernel image and modules directory as they are.
func FromDir(vmlinuz, modulesDir string) (*Kernel, error) {
	fi, err := os.Stat(vmlinuz)
	if err != nil {
		return nil, fmt.Errorf("kernel.vmlinuz %s: %w; point it at a kernel image (bzImage)", vmlinuz, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("kernel.vmlinuz %s is not a file; point it at a kernel image (bzImage)", vmlinuz)
	}
	di, err := os.Stat(modulesDir)
	if err != nil {
		return nil, fmt.Errorf("kernel.modules_dir %s: %w; point it at the kernel's lib/modules/<version> directory", modulesDir, err)
	}
	if !di.IsDir() {
		return nil, fmt.Errorf("kernel.modules_dir %s is not a directory; point it at the kernel's lib/modules/<version> directory", modulesDir)
	}
	return &Kernel{Version: filepath.Base(filepath.Clean(modulesDir)), Vmlinuz: vmlinuz, ModulesDir: modulesDir}, nil
}

// fromTree finds the kernel in an unpacked tree holding boot/vmlinuz-* and
// lib/modules/<version>/ (or usr/lib/modules, as newer Ubuntu ships it).
func fromTree(root string) (*Kernel, error) {
	var images []string
	for _, dir := range []string{"boot", "usr/lib/modules", "lib/modules"} {
		matches, _ := filepath.Glob(filepath.Join(root, dir, "vmlinuz*"))
		images = append(images, matches...)
		deeper, _ := filepath.Glob(filepath.Join(root, dir, "*", "vmlinuz"))
		images = append(images, deeper...)
	}
	sort.Strings(images)
	if len(images) == 0 {
		return nil, fmt.Errorf("no kernel image (boot/vmlinuz-*) in the package(s); list a kernel image package, such as linux-image-6.1.0-NN-amd64 (what linux-image-amd64 depends on)")
	}
	image := images[0]
	version := strings.TrimPrefix(filepath.Base(image), "vmlinuz-")
	if filepath.Base(image) == "vmlinuz" {
		version = filepath.Base(filepath.Dir(image))
	}
	k := &Kernel{Version: version, Vmlinuz: image}
	for _, dir := range []string{"lib/modules", "usr/lib/modules"} {
		p := filepath.Join(root, dir, version)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			k.ModulesDir = p
			break
		}
	}
	if k.ModulesDir == "" {
		// A kernel with every driver built in is fine; module resolution will
		// report any module the spec needs that is not built in.
		k.ModulesDir = filepath.Join(root, "lib/modules", version)
	}
	return k, nil
}
