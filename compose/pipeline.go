package compose

import (
	"context"
	"errors"

	"github.com/tinyboot/tinyboot/internal/cache"
	"github.com/tinyboot/tinyboot/spec"
)

// Build composes the image s describes in two steps with one way data
// flow: Resolve turns the spec (and the lock's pins) into a plan.Plan,
// finding the kernel and the modules on the way, and assemble.Assemble
// builds every output from that plan alone; nothing after Resolve reads
// the spec. A spec of several architectures makes one image of each (see
// buildArches).
func Build(ctx context.Context, s *spec.Resolved, opts Options) (*Result, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	store := cache.Open(opts.CacheDir)
	if err := store.Acquire(); err != nil {
		return nil, err
	}
	defer store.Release()
	res, read, err := buildArches(ctx, s, opts, store)
	if err != nil {
		return nil, err
	}
	if res.LockWritten, err = writeLock(s, opts.Lock, read, lockedPackages(res, read), lockedStubs(res, read), lockedBIOS(res, read), res.ZoneinfoSHA256); err != nil {
		return nil, err
	}
	// Pruning keeps everything this build used, so the next build of the
	// same spec is as warm as this one left it; while another build runs it
	// is left to whichever ends last.
	switch freed, err := store.Prune(opts.CacheLimit); {
	case errors.Is(err, cache.ErrBusy):
		opts.Log.Debug("cache", "prune", "skipped: another build is running")
	case err != nil:
		opts.Log.Warn("cache", "prune", err)
	case freed > 0:
		opts.Log.Debug("cache", "pruned", freed)
	}
	return res, nil
}
