// Package assemble builds an image's outputs from a plan alone: the app
// and the agent, the initramfs segments, the UKI and the ESP holding it,
// then one writer per requested output format over those same parts.
//
// It does not read the spec: everything it needs, host paths included, is
// in the plan.Plan the composer resolved, so that what an image is made of
// can be seen (and tested) before any of it is built.
package assemble

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tinyboot/tinyboot/compose/agentbin"
	"github.com/tinyboot/tinyboot/compose/app"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/compose/plan"
	"github.com/tinyboot/tinyboot/internal/cache"
)

// Options are how to assemble, as opposed to what (the plan).
type Options struct {
	// Cache is tinyboot's cache; nil builds everything afresh in a
	// throwaway one.
	Cache *cache.Cache
	// Log gets one line per stage.
	Log *slog.Logger
}

// Part is one component's share of the image, for the size report.
type Part struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Timing is how long one stage took.
type Timing struct {
	Stage    string        `json:"stage"`
	Duration time.Duration `json:"duration_ns"`
	// Cached is true when the stage found its result in the cache.
	Cached bool `json:"cached,omitempty"`
}

// Result describes a built image. Output, Size and SHA256 are those of the
// first output; Outputs lists every one.
type Result struct {
	// Arch is the image's architecture.
	Arch          string           `json:"arch"`
	Output        string           `json:"output"`
	Size          int64            `json:"size"`
	SHA256        string           `json:"sha256"`
	KernelVersion string           `json:"kernel_version"`
	Packages      []kernel.Package `json:"kernel_packages,omitempty"`
	Modules       []string         `json:"modules"`
	Parts         []Part           `json:"parts"`
	Timings       []Timing         `json:"timings"`
	Outputs       []Written        `json:"outputs,omitempty"`
	// Stub is the package the default UEFI stub came from; nil when the
	// spec sets kernel.stub.
	Stub *kernel.Package `json:"stub_package,omitempty"`
	// BIOSLoader are the packages ISOLINUX came from; nil when the image
	// has no BIOS loader or the spec sets kernel.isolinux.
	BIOSLoader []kernel.Package `json:"bios_loader_packages,omitempty"`
	// ZoneinfoSHA256 is the zone database shipped, when a timezone is set.
	ZoneinfoSHA256 string `json:"zoneinfo_sha256,omitempty"`
	// LockWritten is the lock file the build wrote, if any.
	LockWritten string `json:"lock_written,omitempty"`
	// Images are every image of a build for several architectures, one
	// per architecture in the spec's order (this Result is the first's);
	// empty when the spec names one architecture.
	Images []*Result `json:"images,omitempty"`
}

// Stages runs named, timed stages and keeps their timings.
type Stages struct {
	ctx     context.Context
	log     *slog.Logger
	Timings []Timing
}

// NewStages starts an empty stage record; log may be nil.
func NewStages(ctx context.Context, log *slog.Logger) *Stages {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Stages{ctx: ctx, log: log}
}

// Run runs fn as the stage name. fn reports whether it found its result in
// the cache.
func (s *Stages) Run(name string, fn func() (cached bool, err error)) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	cached, err := fn()
	d := time.Since(start)
	s.Timings = append(s.Timings, Timing{Stage: name, Duration: d, Cached: cached})
	if err != nil {
		return err
	}
	if cached {
		s.log.Info(name, "took", d.Round(time.Millisecond), "cached", true)
	} else {
		s.log.Info(name, "took", d.Round(time.Millisecond))
	}
	return nil
}

// Assemble builds every output p asks for, recording its stages in st.
func Assemble(ctx context.Context, p *plan.Plan, opts Options, st *Stages) (*Result, error) {
	store := opts.Cache
	if store == nil {
		dir, err := os.MkdirTemp("", "tinyboot-cache-*")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		store = cache.Open(dir)
	}
	if len(p.Outputs) == 0 {
		return nil, fmt.Errorf("plan for %s has no outputs", p.Name)
	}
	writers := make([]Writer, len(p.Outputs))
	for i, o := range p.Outputs {
		w, err := newWriter(p, o)
		if err != nil {
			return nil, err
		}
		writers[i] = w
	}
	// Several formats go into one directory, made if need be.
	if len(p.Outputs) > 1 {
		if err := os.MkdirAll(filepath.Dir(p.Outputs[0].Path), 0o755); err != nil {
			return nil, fmt.Errorf("output directory: %w", err)
		}
	}
	work, lock, err := createWorkDir(p.Outputs[0].Path)
	if err != nil {
		return nil, err
	}
	defer func() {
		lock.Close()
		os.RemoveAll(work)
	}()

	var appBin string
	if err := st.Run("app", func() (bool, error) {
		if p.App.GoPackage != "" {
			appBin = filepath.Join(work, "app")
			return false, app.BuildGoWith(ctx, p.App.GoPackage, p.App.Dir, appBin, app.Options{Tags: p.App.BuildTags, LDFlags: p.App.LDFlags, Arch: planArch(p).Name})
		}
		appBin = p.App.Binary
		return false, app.CheckBinaryArch(appBin, planArch(p))
	}); err != nil {
		return nil, err
	}

	agentBin := p.Agent.Prebuilt
	if err := st.Run("agent", func() (bool, error) {
		if agentBin != "" {
			if err := app.CheckExecutableArch(agentBin, planArch(p)); err != nil {
				return false, fmt.Errorf("--agent %w", err)
			}
			return false, nil
		}
		path, cached, err := agentbin.BuildArch(ctx, store, planArch(p).Name)
		if err != nil {
			return false, err
		}
		agentBin = path
		return cached, nil
	}); err != nil {
		return nil, err
	}

	var initrd *initrdImage
	if err := st.Run("initramfs", func() (bool, error) {
		var err error
		initrd, err = buildInitramfs(p, appBin, agentBin, store)
		if err != nil {
			return false, err
		}
		return initrd.cached, nil
	}); err != nil {
		return nil, err
	}

	boot, err := buildBoot(ctx, p, initrd.data, store, st)
	if err != nil {
		return nil, err
	}

	parts := &Parts{Initramfs: initrd.data, ESP: boot.esp, BootPath: espBootPath(p), uki: boot.uki, ukiSize: boot.ukiSize}
	if p.App.ISOPath != "" {
		parts.App, parts.AppISOPath = appBin, p.App.ISOPath
	}
	res := &Result{Arch: planArch(p).Name, KernelVersion: p.Kernel.Version, Packages: p.Kernel.Packages, ZoneinfoSHA256: p.ZoneinfoSHA256, Stub: p.StubPackage}
	if p.BIOS != nil {
		res.BIOSLoader = p.BIOS.Packages
	}
	for _, m := range p.Modules {
		res.Modules = append(res.Modules, m.Name)
	}
	for i, w := range writers {
		o := p.Outputs[i]
		var out []Written
		if err := st.Run("write "+o.Format, func() (bool, error) {
			var err error
			out, err = writeOutput(ctx, w, o.Format, parts, o.Path, work)
			return false, err
		}); err != nil {
			return nil, err
		}
		res.Outputs = append(res.Outputs, out...)
	}
	// The first output as a whole: a directory format's path is the
	// directory, its size that of its files.
	first := res.Outputs[0]
	res.Output, res.Size, res.SHA256 = p.Outputs[0].Path, first.Size, first.SHA256
	if first.Path != p.Outputs[0].Path {
		res.Size, res.SHA256 = 0, ""
		for _, w := range res.Outputs {
			if filepath.Dir(w.Path) == p.Outputs[0].Path {
				res.Size += w.Size
			}
		}
	}
	res.Parts = sizeReport(initrd, boot, res.Outputs, parts)
	return res, nil
}

// sizeReport is what each part costs in the image, compressed; the
// payload and the ESP's and ISO's own bytes are those of the ISO when
// one was written.
func sizeReport(initrd *initrdImage, boot *bootImage, outs []Written, pt *Parts) []Part {
	binaries := "agent+app"
	var onISO int64
	if pt.App != "" {
		// The app is a file on the ISO; the initramfs has the agent alone.
		binaries = "agent"
		if fi, err := os.Stat(pt.App); err == nil {
			onISO = fi.Size()
		}
	}
	parts := []Part{
		{binaries, initrd.sizes["agent+app"]},
		{"modules", initrd.sizes["modules"]},
		{"certs+spec", initrd.sizes["certs"] + initrd.sizes["spec"] + initrd.sizes["base"] + initrd.sizes["files"]},
		{"kernel", boot.kernelSize},
		{"uki stub", boot.ukiSize - boot.kernelSize - int64(len(initrd.data))},
	}
	for _, out := range outs {
		if out.Format == plan.FormatISO {
			if pt.App != "" {
				parts = append(parts, Part{"app (on the ISO)", onISO})
			}
			return append(parts, Part{"payload", out.Payload}, Part{"esp+iso overhead", out.Size - out.Payload - onISO - boot.ukiSize})
		}
	}
	return parts
}
