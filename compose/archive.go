package compose

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/tinyboot/tinyboot/compose/debarchive"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/spec"
)

// archiveClient is the build's package archive client, made once per
// build on first use, so builds that need no package never look for
// sources.
func (b *builder) archiveClient() (*debarchive.Client, error) {
	if b.archive != nil {
		return b.archive, nil
	}
	a, err := NewArchiveClient(b.spec, b.opts)
	if err != nil {
		return nil, err
	}
	a.Log = b.log
	b.archive = a
	return a, nil
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
	return &debarchive.Client{
		Sources: srcs,
		Cache:   debarchive.DirCache{Root: filepath.Join(opts.CacheDir, "archive")},
		Update:  opts.Update,
		HTTP:    opts.HTTPClient,
		Log:     opts.Log,
	}, nil
}

// lockedKernelCached says whether the locked kernel packages are unpacked
// in the cache already, so the build needs no archive (nor its sources).
func (b *builder) lockedKernelCached(r *kernel.Resolver) bool {
	return len(b.opts.Locked) > 0 && r.IsCached(b.opts.Locked)
}

// stubPath is the UEFI stub to pack the kernel with: kernel.stub, else
// systemd's stub from the archive's systemd-boot-efi, pinned by the lock.
func (b *builder) stubPath() (string, error) {
	s := b.spec
	if s.Kernel.Stub != "" {
		return s.Resolve(s.Kernel.Stub), nil
	}
	r := &kernel.Resolver{CacheDir: b.opts.CacheDir, Log: b.log}
	if b.opts.LockedStub == nil || !r.IsStubCached(*b.opts.LockedStub) {
		a, err := b.archiveClient()
		if err != nil {
			return "", fmt.Errorf("UEFI stub: %w", err)
		}
		r.Archive = a
	}
	p, pkg, err := r.Stub(b.ctx, b.opts.LockedStub)
	if err != nil {
		return "", err
	}
	b.res.Stub = &pkg
	return p, nil
}
