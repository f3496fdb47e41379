package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"
)

// floorLine is bench/floorinit's one line.
var floorLine = regexp.MustCompile(`^floor: /init started`)

// targetFloorRatio is the bound on QEMU start → app's first line
// of tinyboot's image over the floor image's QEMU start → /init's line.
const targetFloorRatio = 1.05

// floorCases are the boots the floor comparison makes of both images.
var floorCases = []firmwareCase{firmwareCases[0], firmwareCases[3]}

// floorRun is one boot of the floor comparison.
type floorRun struct {
	Case  string
	Floor bool // the floor image; else tinyboot's
	Run   *bootRun
}

// floors builds the spec twice with the same kernel, modules, app and
// baked spec — once with tinyboot's agent as /init, once with
// bench/floorinit, which only prints a line and powers off — and boots
// both in turn in every floor case: what the agent costs from QEMU's
// start to the app's first line, against the least any /init could.
func (b *bench) floors(ctx context.Context) error {
	if err := b.ensureImage(ctx); err != nil {
		return err
	}
	floorBin := filepath.Join(b.cfg.Work, "bin", "floorinit")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", floorBin, "./bench/floorinit")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./bench/floorinit: %w\n%s", err, out)
	}
	outputs := map[bool]formatOutputs{}
	for _, floor := range []bool{false, true} {
		dir := filepath.Join(b.cfg.Work, "floor-ours")
		extra := []string{"--format", "iso,kernel"}
		if floor {
			dir = filepath.Join(b.cfg.Work, "floor-floor")
			extra = append(extra, "--agent", floorBin)
		}
		r, err := b.build(ctx, b.warmCache, dir, extra...)
		if err != nil {
			return err
		}
		for _, w := range r.Result.Outputs {
			if w.Format == "iso" {
				if floor {
					b.res.FloorISO = w.Size
				} else {
					b.res.OursISO = w.Size
				}
			}
		}
		outputs[floor] = formatOutputs{ISO: filepath.Join(dir, "hello.iso"), KernelDir: filepath.Join(dir, "hello-kernel")}
	}
	disk := filepath.Join(b.cfg.Work, "floor-disk.img")
	cmd = exec.CommandContext(ctx, b.composer, "disk", "create", disk, "--force", "--label", "tinyboot", "--size", "256M")
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("disk create: %w\n%s", err, o)
	}
	for i := range max(b.cfg.Boots, 1) {
		for _, c := range floorCases {
			for _, floor := range []bool{false, true} {
				var run *bootRun
				var err error
				if floor {
					run, _, err = bootUntil(ctx, c.cfg(outputs[floor], disk), floorLine, bootTimeout)
				} else {
					run, err = bootWith(ctx, c.cfg(outputs[floor], disk), appLine, bootTimeout)
				}
				if err != nil {
					return fmt.Errorf("%s (floor %v): %w", c.Name, floor, err)
				}
				b.log.Info("floor boot", "round", i+1, "case", c.Name, "floor", floor, "first line", run.App)
				b.res.Floor = append(b.res.Floor, floorRun{Case: c.Name, Floor: floor, Run: run})
			}
		}
	}
	return nil
}

// floorSamples are the host times QEMU start → first line of c's boots
// of one image.
func (r *results) floorSamples(c string, floor bool) samples {
	var runs []*bootRun
	for _, f := range r.Floor {
		if f.Case == c && f.Floor == floor {
			runs = append(runs, f.Run)
		}
	}
	return hostOf(runs, func(x *bootRun) time.Duration { return x.App })
}

// floorRatio is the median ours/floor for case c, or 0 without boots.
func (r *results) floorRatio(c string) float64 {
	ours, floor := r.floorSamples(c, false), r.floorSamples(c, true)
	if len(ours) == 0 || len(floor) == 0 {
		return 0
	}
	return ratio(float64(ours.median()), float64(floor.median()))
}

func (r *results) writeFloor(p printer) {
	if len(r.Floor) == 0 {
		return
	}
	p("### Against the floor image (same kernel and initramfs content, /init only prints a line)")
	p("")
	p("ISO with tinyboot's agent %s, with bench/floorinit as /init %s.", mib(r.OursISO), mib(r.FloorISO))
	p("")
	p("| boot | tinyboot: QEMU start → app's first line | floor: QEMU start → /init's line | ratio (target ≤ %.2f) | tinyboot, guest: /init → app (modules, storage, network) |", targetFloorRatio)
	p("|---|---|---|---|---|")
	for _, c := range floorCases {
		ours, floor := r.floorSamples(c.Name, false), r.floorSamples(c.Name, true)
		if len(ours) == 0 {
			continue
		}
		rt := r.floorRatio(c.Name)
		var runs []*bootRun
		for _, f := range r.Floor {
			if f.Case == c.Name && !f.Floor {
				runs = append(runs, f.Run)
			}
		}
		guest := fmt.Sprintf("%s (%s, %s, %s)", ms(guestOf(runs, guestTimes.InitToApp).median()),
			ms(guestOf(runs, func(g guestTimes) time.Duration { return g.Modules }).median()),
			ms(guestOf(runs, func(g guestTimes) time.Duration { return g.Storage }).median()),
			ms(guestOf(runs, func(g guestTimes) time.Duration { return g.Network }).median()))
		p("| %s | %s | %s | %.2f %s | %s |", c.Name, ours.spread(), floor.spread(), rt, verdict(rt <= targetFloorRatio), guest)
	}
	p("")
}
