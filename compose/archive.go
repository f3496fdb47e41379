package compose

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tinyboot/tinyboot/compose/debarchive"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/compose/plan"
	"github.com/tinyboot/tinyboot/internal/cache"
	"github.com/tinyboot/tinyboot/spec"
)

// archives makes a build's package archive client on first use, so that
// builds that need no package (everything locked and cached, or no
// kernel.package) never look for sources or touch the network.
type archives struct {
	s      *spec.Spec
	opts   Options
	store  *cache.Cache
	client *debarchive.Client
}

// newArchives is the archive of a build, which moves an older tinyboot's
// archive cache into the build's cache first, whether or not the build
// then needs the archive.
func newArchives(s *spec.Spec, opts Options, store *cache.Cache) *archives {
	migrateArchiveCache(store, opts)
	return &archives{s: s, opts: opts, store: store}
}

// migrateArchiveCache runs debarchive.MigrateLegacyCache; a failure costs
// only downloads, so it is a warning.
func migrateArchiveCache(store *cache.Cache, opts Options) {
	if err := debarchive.MigrateLegacyCache(store); err != nil && opts.Log != nil {
		opts.Log.Warn("cache", "migrate", err)
	}
}

func (a *archives) get() (*debarchive.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	c, err := newArchiveClient(a.s, a.opts, a.store)
	if err != nil {
		return nil, err
	}
	a.client = c
	return c, nil
}

// NewArchiveClient is the package archive client of a build of s with
// opts: the spec's archive entries, else the Debian sources configured on
// the host (s may be nil for those alone), caching under opts.CacheDir.
func NewArchiveClient(s *spec.Spec, opts Options) (*debarchive.Client, error) {
	if opts.CacheDir == "" {
		dir, err := CacheDir()
		if err != nil {
			return nil, err
		}
		opts.CacheDir = dir
	}
	return newArchiveClient(s, opts, cache.Open(opts.CacheDir))
}

// newArchiveClient is NewArchiveClient caching in store, the build's
// cache, so that what the archive fetched survives the build's pruning.
func newArchiveClient(s *spec.Spec, opts Options, store *cache.Cache) (*debarchive.Client, error) {
	if opts.HostSourcesDir == "" {
		opts.HostSourcesDir = debarchive.HostSourcesDir
	}
	var srcs []debarchive.Source
	var entries []spec.ArchiveSource
	if s != nil {
		entries = s.Archive
	}
	for i, a := range entries {
		field := fmt.Sprintf("archive[%d]", i)
		if err := debarchive.CheckURL(a.URL); err != nil {
			return nil, fmt.Errorf("%s.url: %w", field, err)
		}
		src := debarchive.Source{URL: strings.TrimSuffix(a.URL, "/"), Suites: a.Suites, Components: a.Components, Origin: s.Path + " " + field}
		if len(src.Components) == 0 {
			src.Components = []string{"main"}
		}
		if a.Keyring != "" {
			kr, err := debarchive.ReadKeyring(s.Resolve(a.Keyring))
			if err != nil {
				return nil, fmt.Errorf("%s.keyring: %w", field, err)
			}
			src.Keyring = kr
		}
		srcs = append(srcs, src)
	}
	if len(srcs) == 0 {
		host, err := debarchive.HostSources(opts.HostSourcesDir)
		if err != nil {
			return nil, err
		}
		srcs = host
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("no package archive: the spec has no archive entry and this machine configures no Debian sources in %s; add to the spec:\n  archive:\n    - url: http://<a Debian mirror>/debian\n      suites: [bookworm, bookworm-updates]\n    - url: http://<a Debian security mirror>/debian-security\n      suites: [bookworm-security]\n(or set kernel.deb / kernel.vmlinuz and kernel.stub)", opts.HostSourcesDir)
	}
	migrateArchiveCache(store, opts)
	return &debarchive.Client{
		Sources: srcs,
		Cache:   store,
		Update:  opts.Update || opts.Lock.Mode == LockUpdate,
		HTTP:    opts.HTTPClient,
		Log:     opts.Log,
	}, nil
}

// stubInput is the UEFI stub: kernel.stub, else systemd's stub from the
// archive's systemd-boot-efi, pinned by the lock (and then, once cached,
// found without the archive). Errors name the spec field when the user
// chose the stub, and the package when we did.
func stubInput(ctx context.Context, r *spec.Resolved, opts Options, pin *kernel.Package, store *cache.Cache, arc *archives) (plan.Input, *kernel.Package, error) {
	s := r.Spec()
	a := r.Arch()
	if s.Kernel.Stub != "" {
		return plan.Input{
			Path:   s.Resolve(s.Kernel.Stub),
			Origin: "kernel.stub " + s.Kernel.Stub,
			Fix:    "point kernel.stub at a systemd UEFI stub (" + path.Base(a.StubFile) + " from " + kernel.StubPackage + ":" + a.Name + ")",
		}, nil, nil
	}
	res := &kernel.Resolver{CacheDir: opts.CacheDir, Cache: store, Log: opts.Log, Arch: a.Name}
	if pin == nil || !res.IsStubCached(*pin) {
		a, err := arc.get()
		if err != nil {
			return plan.Input{}, nil, fmt.Errorf("UEFI stub: %w", err)
		}
		res.Archive = a
	}
	path, pkg, err := res.Stub(ctx, pin)
	if err != nil {
		return plan.Input{}, nil, err
	}
	return plan.Input{
		Path:   path,
		Origin: fmt.Sprintf("UEFI stub from %s %s (the default; kernel.stub is not set)", pkg.Name, pkg.Version),
		Fix:    "run tbcompose build --update, or set kernel.stub",
	}, &pkg, nil
}

// biosFormats are the formats whose image boots on PC BIOS too.
var biosFormats = []string{spec.FormatISO, spec.FormatRaw, spec.FormatGCE, spec.FormatContainerDisk}

// biosInput is ISOLINUX for the formats that boot on PC BIOS:
// kernel.isolinux's directory, nothing for kernel.isolinux none, else the
// archive's isolinux and syslinux-common, pinned by the lock (and then,
// once cached, found without the archive). Formats with no BIOS boot
// (uki, kernel) need none.
func biosInput(ctx context.Context, r *spec.Resolved, formats []string, opts Options, pins []kernel.Package, store *cache.Cache, arc *archives) (*kernel.BIOSLoader, error) {
	s := r.Spec()
	if !slices.ContainsFunc(formats, func(f string) bool { return slices.Contains(biosFormats, f) }) {
		return nil, nil
	}
	if r.Arch().Name != "amd64" {
		// PC BIOS exists on x86 only; other images boot under UEFI.
		return nil, nil
	}
	switch dir := s.Kernel.Isolinux; dir {
	case spec.IsolinuxNone:
		return nil, nil
	case "":
	default:
		d := s.Resolve(dir)
		l := &kernel.BIOSLoader{
			IsolinuxBin: filepath.Join(d, "isolinux.bin"),
			LdlinuxC32:  filepath.Join(d, "ldlinux.c32"),
			MBR:         filepath.Join(d, "isohdpfx.bin"),
		}
		for _, f := range []string{l.IsolinuxBin, l.LdlinuxC32, l.MBR} {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("kernel.isolinux %s: %w; the directory must hold %s (from Debian's isolinux and syslinux-common), or set kernel.isolinux: none", dir, err, strings.Join(spec.IsolinuxFiles, ", "))
			}
		}
		return l, nil
	}
	res := &kernel.Resolver{CacheDir: opts.CacheDir, Cache: store, Log: opts.Log}
	if len(pins) == 0 || !res.IsBIOSLoaderCached(pins) {
		a, err := arc.get()
		if err != nil {
			return nil, fmt.Errorf("BIOS loader: %w (or set kernel.isolinux: none for an image that boots under UEFI only)", err)
		}
		res.Archive = a
	}
	return res.BIOSLoader(ctx, pins)
}
