package compose

import (
	"context"

	"github.com/tinyboot/tinyboot/compose/assemble"
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
	st := assemble.NewStages(ctx, opts.Log)
	p, err := resolve(ctx, s, opts, st)
	if err != nil {
		return nil, err
	}
	res, err := assemble.Assemble(ctx, p, assemble.Options{CacheDir: opts.CacheDir, Log: opts.Log}, st)
	if err != nil {
		return nil, err
	}
	res.Timings = st.Timings
	return res, nil
}
