package compose

import (
	"fmt"

	"github.com/tinyboot/tinyboot/compose/kernel"
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
	return lock.Packages, lock, nil
}

// writeLock records what kernel.package resolved to, unless the policy
// forbids it or nothing changed; it returns the path written, or "".
func writeLock(r *spec.Resolved, o LockOptions, read *Lock, resolved []kernel.Package, stub *kernel.Package, bios []kernel.Package, zoneinfo string) (string, error) {
	pkg := r.Spec().Kernel.Package
	if o.Path == "" || pkg == "" || o.Mode == LockFrozen {
		return "", nil
	}
	fresh := &Lock{Version: LockVersion, Kernel: pkg, Packages: resolved, Stub: stub, BIOSLoader: bios, Zoneinfo: zoneinfo}
	if fresh.Equal(read) {
		return "", nil
	}
	if err := WriteLock(o.Path, fresh); err != nil {
		return "", err
	}
	return o.Path, nil
}

// stubPin is the UEFI stub package the lock read pins, if any.
func stubPin(read *Lock) *kernel.Package {
	if read == nil {
		return nil
	}
	return read.Stub
}

// biosPins are the BIOS loader packages the lock read pins, if any.
func biosPins(read *Lock) []kernel.Package {
	if read == nil {
		return nil
	}
	return read.BIOSLoader
}
