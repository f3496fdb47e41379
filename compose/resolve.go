package compose

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/tinyboot/tinyboot/compose/assemble"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/compose/plan"
	"github.com/tinyboot/tinyboot/internal/cache"
	"github.com/tinyboot/tinyboot/spec"
)

// caBundles are where distributions keep the system's PEM bundle.
var caBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
	"/etc/ssl/ca-bundle.pem",             // openSUSE
	"/etc/ssl/cert.pem",                  // macOS, BSDs
}

// Plan resolves r into the plan of its image without building anything
// but the kernel tree and the module list: what `Build` would assemble
// (for a spec of several architectures, the first's image).
func Plan(ctx context.Context, r *spec.Resolved, opts Options) (*plan.Plan, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	pins, read, err := lockPins(r, opts.Lock)
	if err != nil {
		return nil, err
	}
	if opts.ZoneinfoSHA256 == "" && read != nil {
		opts.ZoneinfoSHA256 = read.Zoneinfo
	}
	return resolve(ctx, r, opts, lockedPins{kernel: pins, stub: stubPin(read, r.Arch().Name), bios: biosPins(read)}, cache.Open(opts.CacheDir), assemble.NewStages(ctx, opts.Log))
}

// lockedPins are the packages the lock pins, per part of the image.
type lockedPins struct {
	kernel []kernel.Package
	stub   *kernel.Package
	bios   []kernel.Package
}

// resolve is the resolving step: the kernel and its modules are found (the
// "kernel" and "modules" stages), every host path is made absolute and
// every input named by the spec field it came from.
func resolve(ctx context.Context, r *spec.Resolved, opts Options, pins lockedPins, store *cache.Cache, st *assemble.Stages) (*plan.Plan, error) {
	s := r.Spec()
	a := r.Arch()
	arc := newArchives(s, opts, store)
	formats, err := Formats(r, opts.Formats)
	if err != nil {
		return nil, err
	}
	outputs, err := OutputPaths(r, formats, opts.Output, opts.archSuffix)
	if err != nil {
		return nil, err
	}
	if opts.DiskSize != 0 && !slices.Contains(formats, plan.FormatRaw) {
		return nil, fmt.Errorf("--disk-size sizes the raw format, which this build does not write (formats: %s)", strings.Join(formats, ", "))
	}

	var k *kernel.Kernel
	if err := st.Run("kernel", func() (bool, error) {
		var err error
		k, err = resolveKernel(ctx, r, opts, pins.kernel, store, arc)
		return false, err
	}); err != nil {
		return nil, err
	}
	var mods []plan.Module
	if err := st.Run("modules", func() (bool, error) {
		var err error
		mods, err = resolveModules(r, a, formats, k, store, opts.Log)
		return false, err
	}); err != nil {
		return nil, err
	}

	ca, err := caCertsInput(r)
	if err != nil {
		return nil, err
	}
	stub, stubPkg, err := stubInput(ctx, r, opts, pins.stub, store, arc)
	if err != nil {
		return nil, err
	}
	bios, err := biosInput(ctx, r, formats, opts, pins.bios, store, arc)
	if err != nil {
		return nil, err
	}
	bakedMods := bakedModules(mods)
	p := &plan.Plan{
		Name:        s.Name,
		Arch:        a,
		Epoch:       opts.Epoch,
		Compression: opts.Compression,
		Kernel:      k,
		Modules:     mods,
		App:         plan.App{ImagePath: AppPath(s.Name, s.App.RunFrom)},
		Agent:       plan.Agent{Prebuilt: opts.AgentPath},
		Stub:        stub,
		StubPackage: stubPkg,
		CACerts:     ca,
		Config:      Bake(r, k.Version, bakedMods),
		Cmdline:     CmdlineArch(a, s.Kernel.Cmdline),
		OSRelease:   fmt.Sprintf("NAME=tinyboot\nID=tinyboot\nPRETTY_NAME=\"tinyboot %s\"\nIMAGE_ID=%s\nVERSION_ID=%s\n", s.Name, s.Name, k.Version),
		VolumeID:    VolumeID(s.Name),
		Outputs:     outputs,
		BIOS:        bios,
		DiskSize:    opts.DiskSize,
	}
	if s.App.RunFrom == spec.RunFromISO {
		// Checked here too: --format overrides the spec's formats.
		for _, o := range outputs {
			if !spec.FormatHasISO(o.Format) {
				return nil, fmt.Errorf("app.run_from: iso: the %s format has no ISO to run the app from; build only formats that carry it (iso, raw, gce, containerdisk), or keep the app in the initramfs", o.Format)
			}
		}
		p.App.ISOPath = AppISOPath(s.Name)
	}
	if s.App.Go != "" {
		p.App.GoPackage, p.App.Dir = s.App.Go, s.Dir
		if b := s.App.Build; b != nil {
			p.App.BuildTags, p.App.LDFlags = b.Tags, b.LDFlags
		}
	} else {
		p.App.Binary = s.Resolve(s.App.Binary)
	}
	for i, e := range s.Files {
		p.Payload = append(p.Payload, plan.PayloadEntry{
			Input: plan.Input{Path: s.Resolve(e.Src), Origin: fmt.Sprintf("files[%d].src %s", i, e.Src)},
			Dst:   e.Dst,
		})
	}
	if p.Files, p.ZoneinfoSHA256, err = zoneFiles(ctx, s.Timezone, opts.ZoneinfoSHA256); err != nil {
		return nil, err
	}
	if p.UKITransforms, err = secureBootTransforms(s); err != nil {
		return nil, err
	}
	p.SlimModules = modulesMaySlim(s.SecureBoot != nil, p.Cmdline)
	if k.TreeID != "" {
		var srcs []string
		for _, m := range mods {
			srcs = append(srcs, m.Source)
		}
		p.Keys.Modules = k.TreeID + "\x00" + k.Version + "\x00" + strconv.FormatBool(p.SlimModules) + "\x00" + strings.Join(srcs, "\x00")
	}
	return p, nil
}

func resolveKernel(ctx context.Context, r *spec.Resolved, opts Options, pins []kernel.Package, store *cache.Cache, arc *archives) (*kernel.Kernel, error) {
	s := r.Spec()
	res := &kernel.Resolver{CacheDir: opts.CacheDir, Cache: store, Log: opts.Log, Arch: r.Arch().Name}
	switch {
	case s.Kernel.Package != "":
		// A locked kernel already unpacked needs no archive (nor sources).
		if len(pins) == 0 || !res.IsCached(pins) {
			a, err := arc.get()
			if err != nil {
				return nil, fmt.Errorf("kernel.package %s: %w", s.Kernel.Package, err)
			}
			res.Archive = a
		}
		return res.Package(ctx, r.Arch().KernelPackageFor(s.Kernel.Package), pins)
	case len(s.Kernel.Deb) > 0:
		var srcs []kernel.DebSource
		for _, d := range s.Kernel.Deb {
			src := kernel.DebSource{URL: d.URL, SHA256: d.SHA256}
			if d.Path != "" {
				src.Path = s.Resolve(d.Path)
			}
			srcs = append(srcs, src)
		}
		return res.Debs(ctx, srcs)
	default:
		return kernel.FromDir(s.Resolve(s.Kernel.Vmlinuz), s.Resolve(s.Kernel.ModulesDir))
	}
}

// caCertsInput finds the PEM bundle ca_certs names: none, the system's,
// or a file.
func caCertsInput(r *spec.Resolved) (plan.Input, error) {
	s := r.Spec()
	switch v := s.CACerts; v {
	case "none":
		return plan.Input{Origin: "ca_certs none"}, nil
	case "system":
		for _, p := range caBundles {
			if _, err := os.Stat(p); err == nil {
				return plan.Input{Path: p, Origin: "ca_certs system (" + p + ")"}, nil
			}
		}
		return plan.Input{}, fmt.Errorf("ca_certs: system: no CA bundle found on this machine (looked in %v); install ca-certificates, or set ca_certs to a PEM file or to none", caBundles)
	default:
		return plan.Input{Path: s.Resolve(v), Origin: "ca_certs " + v, Fix: "point ca_certs at a PEM bundle, or set it to system or none"}, nil
	}
}

// modulesMaySlim says whether the image's modules may go without their
// signatures: not when it is signed for Secure Boot (Debian's kernel then
// locks down and loads only signed modules) nor when the command line
// enforces signatures or a lockdown itself.
func modulesMaySlim(secureBoot bool, cmdline string) bool {
	if secureBoot {
		return false
	}
	for _, f := range strings.Fields(cmdline) {
		if strings.HasPrefix(f, "module.sig_enforce") || strings.HasPrefix(f, "lockdown=") {
			return false
		}
	}
	return true
}
