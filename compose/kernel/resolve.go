package kernel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/tinyboot/tinyboot/compose/debarchive"
	"github.com/tinyboot/tinyboot/internal/cache"
	"github.com/tinyboot/tinyboot/internal/fsutil"
)

// Cache kinds: downloaded packages (one kind with the archive client's,
// as both name a .deb by its sha256) and the kernel trees unpacked from
// them.
const (
	DebsKind    = debarchive.DebsKind
	KernelsKind = "kernels"
)

// Resolver fetches and unpacks kernels, caching both the .debs and the
// unpacked trees under CacheDir.
type Resolver struct {
	// CacheDir is tinyboot's cache root; debs/ and kernels/ live below it.
	CacheDir string
	// Cache, when set, is the cache at CacheDir that the build shares, so
	// that what this resolver uses survives the build's pruning.
	Cache *cache.Cache
	// Log receives one line per slow step (download, unpack).
	Log *slog.Logger
	// HTTPClient downloads url entries; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Archive resolves and downloads kernel.package; only needed for it
	// and the default UEFI stub.
	Archive *debarchive.Client
	// Arch is the image's Debian architecture; default amd64.
	Arch string
}

// DebSource is one .deb given by the spec: a local Path, or a URL pinned
// by SHA256.
type DebSource struct {
	Path, URL, SHA256 string
}

func (r *Resolver) cache() *cache.Cache {
	if r.Cache == nil {
		r.Cache = cache.Open(r.CacheDir)
	}
	return r.Cache
}

func (r *Resolver) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Resolver) arch() string {
	if r.Arch != "" {
		return r.Arch
	}
	return "amd64"
}

// isKernelDep says whether a dependency of a kernel package holds part of
// the kernel: the image itself or, on Ubuntu, its modules.
func isKernelDep(name string) bool {
	return strings.HasPrefix(name, "linux-image-") || strings.HasPrefix(name, "linux-modules-")
}

// packageOf is the lock entry of a package the archive resolved.
func packageOf(p *debarchive.Package) Package {
	return Package{Name: p.Name, Version: p.Version, Architecture: p.Architecture, SHA256: p.SHA256, PoolPath: p.Filename, Source: p.From}
}

// Package resolves a kernel package name through the archive, following
// a meta package (linux-image-amd64) to the packages holding the kernel
// and its modules. With locked set, exactly those packages are used: a
// cached kernel needs no network at all, and missing .debs are fetched
// from their pinned pool paths without reading any index.
func (r *Resolver) Package(ctx context.Context, name string, locked []Package) (*Kernel, error) {
	pkgs := locked
	if len(pkgs) == 0 {
		if r.Archive == nil {
			return nil, fmt.Errorf("kernel.package %s: no archive configured", name)
		}
		found, err := r.Archive.Resolve(ctx, name, r.arch(), isKernelDep)
		if err != nil {
			return nil, fmt.Errorf("kernel.package %s: %w", name, err)
		}
		for _, p := range found {
			pkgs = append(pkgs, packageOf(p))
		}
	}
	if k, ok := r.cached(pkgs); ok {
		return k, nil
	}
	paths := make([]string, len(pkgs))
	errs := make([]error, len(pkgs))
	var wg sync.WaitGroup
	for i, p := range pkgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = r.fetchPackage(ctx, p)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("kernel.package %s: %w", name, err)
		}
	}
	k, err := r.unpack(pkgs, paths)
	if err != nil {
		return nil, fmt.Errorf("kernel.package %s: %w", name, err)
	}
	return k, nil
}

// fetchPackage returns the cached .deb of p, downloading it from its pool
// path first. A lock entry written before pool paths were recorded is
// looked up in the index by its exact version.
func (r *Resolver) fetchPackage(ctx context.Context, p Package) (string, error) {
	if r.Archive == nil {
		return "", fmt.Errorf("%s %s: no archive configured to download it from", p.Name, p.Version)
	}
	pin := debarchive.Pin{Name: p.Name, Version: p.Version, Architecture: p.Architecture, Filename: p.PoolPath, SHA256: p.SHA256, From: p.Source}
	if path, ok := r.Archive.Cached(pin); ok {
		return path, nil
	}
	if pin.Filename == "" {
		arch := p.Architecture
		if arch == "" {
			arch = r.arch()
		}
		found, err := r.Archive.Find(ctx, p.Name, arch, p.Version)
		if err != nil {
			return "", fmt.Errorf("%w (tinyboot.lock pins %s %s, sha256 %s)", err, p.Name, p.Version, p.SHA256)
		}
		if found.SHA256 != strings.ToLower(p.SHA256) {
			return "", fmt.Errorf("%s %s: the archive's index gives sha256 %s, tinyboot.lock pins %s; run tbcompose build --update if you trust the archive", p.Name, p.Version, found.SHA256, p.SHA256)
		}
		pin = debarchive.PinOf(found)
	}
	r.log().Info("downloading kernel package", "package", p.Name, "version", p.Version)
	return r.Archive.Download(ctx, pin)
}

// Debs resolves local or downloaded .deb files.
func (r *Resolver) Debs(ctx context.Context, sources []DebSource) (*Kernel, error) {
	var pkgs []Package
	var paths []string
	for i, src := range sources {
		field := fmt.Sprintf("kernel.deb[%d] %s", i, src.Path)
		var path, sum string
		var err error
		if src.URL != "" {
			field = fmt.Sprintf("kernel.deb[%d] %s", i, src.URL)
			path, err = r.fetchURL(ctx, src.URL, strings.ToLower(src.SHA256))
			sum = strings.ToLower(src.SHA256)
		} else {
			path = src.Path
			sum, err = fsutil.SHA256File(path)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		name, version, err := controlOf(path)
		if err != nil {
			fix := "the file is damaged or incomplete, or not a .deb: download it again"
			if src.URL != "" {
				fix = "the url does not serve a Debian package; check it"
			}
			return nil, fmt.Errorf("%s: %w; %s", field, err, fix)
		}
		pkgs = append(pkgs, Package{Name: name, Version: version, SHA256: sum, URL: src.URL})
		paths = append(paths, path)
	}
	if k, ok := r.cached(pkgs); ok {
		return k, nil
	}
	k, err := r.unpack(pkgs, paths)
	if err != nil {
		return nil, fmt.Errorf("kernel.deb: %w", err)
	}
	return k, nil
}

// treeDir is where the unpacked kernel of pkgs lives: named by the hashes
// of the packages, so the same packages always map to the same tree.
func (r *Resolver) treeDir(pkgs []Package) string {
	sums := make([]string, len(pkgs))
	for i, p := range pkgs {
		sums[i] = p.SHA256
	}
	sort.Strings(sums)
	h := sha256.Sum256([]byte(strings.Join(sums, "\n")))
	return r.cache().Path(KernelsKind, hex.EncodeToString(h[:12]))
}

const completeMarker = ".tinyboot-complete"

// IsCached says whether the kernel of pkgs is unpacked in the cache, so
// resolving it needs no archive.
func (r *Resolver) IsCached(pkgs []Package) bool {
	_, ok := r.cached(pkgs)
	return ok
}

func (r *Resolver) cached(pkgs []Package) (*Kernel, bool) {
	dir := r.treeDir(pkgs)
	if _, err := os.Stat(filepath.Join(dir, completeMarker)); err != nil {
		return nil, false
	}
	k, err := fromTree(dir)
	if err != nil {
		return nil, false
	}
	k.Packages = pkgs
	k.TreeID = filepath.Base(dir)
	return k, true
}

// unpack extracts the kernel parts of every package into a fresh tree and
// publishes it with a rename, so a killed build never leaves a half tree
// that a later build would trust.
func (r *Resolver) unpack(pkgs []Package, paths []string) (*Kernel, error) {
	dir := r.treeDir(pkgs)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".unpack-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for i, path := range paths {
		r.log().Info("unpacking kernel package", "package", pkgs[i].Name, "version", pkgs[i].Version)
		if err := extractKernelParts(path, tmp); err != nil {
			return nil, fmt.Errorf("unpack %s %s (%s): %w; the package is damaged or incomplete: download it again", pkgs[i].Name, pkgs[i].Version, filepath.Base(path), err)
		}
	}
	if _, err := fromTree(tmp); err != nil {
		names := make([]string, len(pkgs))
		for i, p := range pkgs {
			names[i] = p.Name + " " + p.Version
		}
		return nil, fmt.Errorf("%s: %w", strings.Join(names, ", "), err)
	}
	if err := os.WriteFile(filepath.Join(tmp, completeMarker), nil, 0o644); err != nil {
		return nil, err
	}
	os.RemoveAll(dir) // an incomplete tree from a killed build
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	if k, ok := r.cached(pkgs); ok {
		return k, nil
	}
	return nil, fmt.Errorf("unpacked kernel vanished from %s", dir)
}

// fetchURL returns the cached download of url, fetching and verifying it
// first. Nothing is cached unless the sha256 matches.
func (r *Resolver) fetchURL(ctx context.Context, url, want string) (string, error) {
	final := r.cache().Path(DebsKind, want+".deb")
	debs := filepath.Dir(final)
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	client := r.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	r.log().Info("downloading kernel package", "url", url)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("download: %w; check the url and the network, or download the file yourself and list its path in kernel.deb", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("download: server answered %s; check the url, or download the file yourself and list its path in kernel.deb", resp.Status)
	}
	f, err := os.CreateTemp(debs, ".download-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		f.Close()
		return "", fmt.Errorf("download: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return "", fmt.Errorf("sha256 mismatch: downloaded %s, the spec pins %s; nothing was cached: check the url, and update sha256 only if you trust the new file", got, want)
	}
	if err := os.Rename(f.Name(), final); err != nil {
		return "", err
	}
	return final, nil
}
