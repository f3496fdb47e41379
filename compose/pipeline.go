package compose

import (
	"context"
	"errors"

	"github.com/tinyboot/tinyboot/compose/assemble"
	"github.com/tinyboot/tinyboot/internal/cache"
	"github.com/tinyboot/tinyboot/spec"
)

// Build composes the image s describes in two steps with one way data
// flow: Resolve turns the spec (and the lock's pins) into a plan.Plan,
// finding the kernel and the modules on the way, and assemble.Assemble
// builds every output from that plan alone; nothing after Resolve reads
// the spec.
func Build(ctx context.Context, s *spec.Resolved, opts Options) (*Result, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	pins, read, err := lockPins(s, opts.Lock)
	if err != nil {
		return nil, err
	}
	if opts.ZoneinfoSHA256 == "" && read != nil {
		opts.ZoneinfoSHA256 = read.Zoneinfo
	}
	store := cache.Open(opts.CacheDir)
	if err := store.Acquire(); err != nil {
		return nil, err
	}
	defer store.Release()
	st := assemble.NewStages(ctx, opts.Log)
	p, err := resolve(ctx, s, opts, lockedPins{kernel: pins, stub: stubPin(read), bios: biosPins(read)}, store, st)
	if err != nil {
		return nil, err
	}
	res, err := assemble.Assemble(ctx, p, assemble.Options{Cache: store, Log: opts.Log}, st)
	if err != nil {
		return nil, err
	}
	res.Timings = st.Timings
	if res.LockWritten, err = writeLock(s, opts.Lock, read, res.Packages, res.Stub, res.BIOSLoader, res.ZoneinfoSHA256); err != nil {
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
