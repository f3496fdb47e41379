package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tinyboot/tinyboot/compose/assemble"
	"github.com/tinyboot/tinyboot/compose/esp"
	"github.com/tinyboot/tinyboot/compose/iso"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/internal/arch"
	"github.com/tinyboot/tinyboot/internal/cache"
	"github.com/tinyboot/tinyboot/spec"
)

// ArchOutput is the path of the image of architecture a when a build
// writes out: out itself for a single-architecture spec, else out with
// "-<arch>" before its extension (hello.iso becomes hello-arm64.iso), so
// that the images of one spec sit side by side. Every output format's
// name goes through here.
func ArchOutput(out, a string, multi bool) string {
	if !multi {
		return out
	}
	ext := filepath.Ext(out)
	return strings.TrimSuffix(out, ext) + "-" + a + ext
}

// CmdlineArch is Cmdline for an image of a: the default serial console
// and any console= word of the spec naming another architecture's first
// serial port name a's (see arch.ConsoleFor), so one spec's console works
// on each architecture.
func CmdlineArch(a arch.Arch, extra []string) string {
	return strings.Join(archCmdline(a, strings.Fields(Cmdline(extra))), " ")
}

// archCmdline is the kernel command line words of the spec for a: a
// console= word naming another architecture's first serial port names
// a's (see arch.ConsoleFor), so one spec's console works on each.
func archCmdline(a arch.Arch, words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = a.ConsoleFor(w)
	}
	return out
}

// readBootFile reads the UKI from an ESP at whichever architecture's
// removable-media path holds one, and says which.
func readBootFile(fat *esp.FS) ([]byte, string, error) {
	var errs []error
	for _, name := range arch.Names() {
		a := arch.MustLookup(name)
		b, err := fat.ReadFile(a.ESPBootPath)
		if err == nil {
			return b, a.Name, nil
		}
		errs = append(errs, err)
	}
	return nil, "", fmt.Errorf("no UKI at any architecture's boot path: %w", errors.Join(errs...))
}

// buildArches builds one image per architecture of s (see ArchOutput for
// their names) and returns the first's result, with every image's in
// Images when there are several, and the lock read.
func buildArches(ctx context.Context, s *spec.Resolved, opts Options, store *cache.Cache) (*Result, *Lock, error) {
	arches := s.Arches()
	var results []*Result
	var read *Lock
	for _, name := range arches {
		r := s.ForArch(name)
		o := opts
		if len(arches) > 1 {
			o.archSuffix = name
		}
		pins, lock, err := lockPins(r, o.Lock)
		if err != nil {
			return nil, nil, err
		}
		if lock != nil {
			read = lock
			if o.ZoneinfoSHA256 == "" {
				o.ZoneinfoSHA256 = lock.Zoneinfo
			}
		}
		st := assemble.NewStages(ctx, opts.Log)
		p, err := resolve(ctx, r, o, lockedPins{kernel: pins, stub: stubPin(lock, name), bios: biosPins(lock)}, store, st)
		if err != nil {
			return nil, nil, archError(name, len(arches), err)
		}
		res, err := assemble.Assemble(ctx, p, assemble.Options{Cache: store, Log: opts.Log}, st)
		if err != nil {
			return nil, nil, archError(name, len(arches), err)
		}
		res.Timings = st.Timings
		results = append(results, res)
	}
	if len(results) == 1 {
		return results[0], read, nil
	}
	first := *results[0]
	first.Images = results
	return &first, read, nil
}

// archError names the architecture of a failed image when the spec
// builds several.
func archError(name string, n int, err error) error {
	if n == 1 {
		return err
	}
	return fmt.Errorf("arch %s: %w", name, err)
}

// lockedPackages are the kernel packages of every image of res for the
// lock, and those read pins for architectures this build did not make
// (build --arch arm64 keeps the amd64 pins of the spec's own arch).
func lockedPackages(res *Result, read *Lock) []kernel.Package {
	var pkgs []kernel.Package
	for _, r := range imagesOf(res) {
		pkgs = append(pkgs, r.Packages...)
	}
	if read != nil {
		pkgs = append(pkgs, otherArches(res, read.Packages)...)
	}
	return pkgs
}

// lockedStubs are the stub packages of every image of res, in order, then
// those read pins for other architectures.
func lockedStubs(res *Result, read *Lock) []kernel.Package {
	var stubs []kernel.Package
	for _, r := range imagesOf(res) {
		if r.Stub != nil {
			stubs = append(stubs, *r.Stub)
		}
	}
	if read != nil {
		stubs = append(stubs, otherArches(res, append(optional(read.Stub), read.Stubs...))...)
	}
	return stubs
}

// lockedBIOS are the BIOS loader packages of the images of res (the
// loader exists for amd64 only), else those read pins.
func lockedBIOS(res *Result, read *Lock) []kernel.Package {
	for _, r := range imagesOf(res) {
		if len(r.BIOSLoader) > 0 {
			return r.BIOSLoader
		}
	}
	if read != nil {
		return read.BIOSLoader
	}
	return nil
}

// otherArches are the entries of pkgs for architectures res has no image
// of.
func otherArches(res *Result, pkgs []kernel.Package) []kernel.Package {
	var out []kernel.Package
	for _, name := range arch.Names() {
		if !slices.ContainsFunc(imagesOf(res), func(r *Result) bool { return r.Arch == name }) {
			out = append(out, pinsFor(pkgs, name)...)
		}
	}
	return out
}

// imagesOf are the results of every image a build made.
func imagesOf(res *Result) []*Result {
	if len(res.Images) > 0 {
		return res.Images
	}
	return []*Result{res}
}

// ImageArch is the architecture of the image at path, known by where its
// ESP holds the UKI.
func ImageArch(path string) (string, error) {
	im, err := iso.Open(path)
	if err != nil {
		return "", err
	}
	defer im.Close()
	espImage, err := im.ESP()
	if err != nil {
		return "", fmt.Errorf("%s: no EFI boot image: %w", path, err)
	}
	fat, err := esp.Open(bytes.NewReader(espImage))
	if err != nil {
		return "", fmt.Errorf("%s: ESP: %w", path, err)
	}
	_, a, err := readBootFile(fat)
	if err != nil {
		return "", fmt.Errorf("%s: ESP: %w", path, err)
	}
	return a, nil
}
