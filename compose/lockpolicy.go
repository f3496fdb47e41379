package compose

import (
	"fmt"

	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/internal/arch"
	"github.com/tinyboot/tinyboot/spec"
)

// LockMode is how a build treats tinyboot.lock.
type LockMode int

// Lock modes.
const (
	// LockUse builds from the lock when it pins the spec's kernel.package,
	// resolves afresh otherwise, and writes the lock when it changed.
	LockUse LockMode = iota
	// LockUpdate resolves afresh and rewrites the lock (build --update).
	LockUpdate
	// LockFrozen requires a lock that pins the spec's kernel.package and
	// never writes it (build --locked, for CI).
	LockFrozen
)

// LockOptions say where a build's lock file is and how to use it. The
// zero value uses no lock file.
type LockOptions struct {
	// Path is the lock file, usually LockPath(spec path); empty means none.
	Path string
	Mode LockMode
}

// lockPins reads the lock the policy asks for and returns the packages to
// pin (nil resolves afresh) and the lock read, for comparison afterwards.
func lockPins(r *spec.Resolved, o LockOptions) ([]kernel.Package, *Lock, error) {
	pkg := r.Spec().Kernel.Package
	if o.Path == "" || pkg == "" || o.Mode == LockUpdate {
		return nil, nil, nil
	}
	lock, err := ReadLock(o.Path)
	if err != nil {
		return nil, nil, err
	}
	if lock != nil && lock.Kernel != pkg {
		if o.Mode == LockFrozen {
			return nil, nil, fmt.Errorf("%s pins kernel %q but the spec asks for %q; run tbcompose build --update and commit the lock", o.Path, lock.Kernel, pkg)
		}
		lock = nil
	}
	if lock == nil {
		if o.Mode == LockFrozen {
			return nil, nil, fmt.Errorf("--locked: %s is missing; run tbcompose build once and commit the lock", o.Path)
		}
		return nil, nil, nil
	}
	a := r.Arch().Name
	pins := pinsFor(lock.Packages, a)
	if len(pins) == 0 && o.Mode == LockFrozen {
		return nil, nil, fmt.Errorf("--locked: %s pins no %s packages; run tbcompose build --update and commit the lock", o.Path, a)
	}
	return pins, lock, nil
}

// writeLock records what kernel.package resolved to, unless the policy
// forbids it or nothing changed; it returns the path written, or "".
// stubs are the stub packages of each architecture built, in order.
func writeLock(r *spec.Resolved, o LockOptions, read *Lock, resolved []kernel.Package, stubs []kernel.Package, bios []kernel.Package, zoneinfo string) (string, error) {
	pkg := r.Spec().Kernel.Package
	if o.Path == "" || pkg == "" || o.Mode == LockFrozen {
		return "", nil
	}
	fresh := &Lock{Version: LockVersion, Kernel: pkg, Packages: resolved, BIOSLoader: bios, Zoneinfo: zoneinfo}
	switch len(stubs) {
	case 0:
	case 1:
		fresh.Stub = &stubs[0]
	default:
		fresh.Stubs = stubs
	}
	if fresh.Equal(read) {
		return "", nil
	}
	if err := WriteLock(o.Path, fresh); err != nil {
		return "", err
	}
	return o.Path, nil
}

// stubPin is the UEFI stub package of architecture a the lock read pins,
// if any.
func stubPin(read *Lock, a string) *kernel.Package {
	if read == nil {
		return nil
	}
	for _, p := range append(pinsFor(read.Stubs, a), pinsFor(optional(read.Stub), a)...) {
		return &p
	}
	return nil
}

// pinsFor are the entries of pkgs for architecture a; an entry that names
// none is the default architecture's (locks written before arm64).
func pinsFor(pkgs []kernel.Package, a string) []kernel.Package {
	var out []kernel.Package
	for _, p := range pkgs {
		pa := p.Architecture
		if pa == "" {
			pa = arch.Default
		}
		if pa == a {
			out = append(out, p)
		}
	}
	return out
}

func optional(p *kernel.Package) []kernel.Package {
	if p == nil {
		return nil
	}
	return []kernel.Package{*p}
}

// biosPins are the BIOS loader packages the lock read pins, if any.
func biosPins(read *Lock) []kernel.Package {
	if read == nil {
		return nil
	}
	return read.BIOSLoader
}
