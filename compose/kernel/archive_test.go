package kernel

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/tinyboot/tinyboot/compose/debarchive"
	tbcache "github.com/tinyboot/tinyboot/internal/cache"
	"github.com/tinyboot/tinyboot/internal/debtest"
)

// kernelArchive is a fake archive with a kernel meta package, the kernel
// image package it depends on and systemd-boot-efi.
func kernelArchive(t *testing.T) *debtest.Archive {
	image := debtest.PackageDeb(t, "linux-image-6.1.0-9-amd64", "6.1.99-1", "amd64", map[string]string{
		"./boot/":                      "",
		"./boot/vmlinuz-6.1.0-9-amd64": "not really a kernel",
		"./lib/modules/6.1.0-9-amd64/kernel/drivers/net/virtio_net.ko": "not really a module",
		"./usr/share/doc/linux-image/changelog.gz":                     "skipped",
	})
	meta := debtest.PackageDeb(t, "linux-image-amd64", "6.1.99-1", "amd64", map[string]string{"./usr/share/doc/": ""})
	stub := debtest.PackageDeb(t, "systemd-boot-efi", "252.39-1", "amd64", map[string]string{
		"./usr/lib/systemd/boot/efi/linuxx64.efi.stub": "MZ stub bytes",
	})
	return debtest.NewArchive(t, debtest.Suite{Name: "stable", Pkgs: []debtest.Pkg{
		{Name: "linux-image-amd64", Version: "6.1.99-1", Arch: "amd64", Depends: "linux-image-6.1.0-9-amd64 (= 6.1.99-1)", Deb: meta},
		{Name: "linux-image-6.1.0-9-amd64", Version: "6.1.99-1", Arch: "amd64", Depends: "kmod", Deb: image},
		{Name: "systemd-boot-efi", Version: "252.39-1", Arch: "amd64", Deb: stub},
	}})
}

func archiveResolver(a *debtest.Archive, cache string) *Resolver {
	store := tbcache.Open(cache)
	return &Resolver{CacheDir: cache, Cache: store, Archive: &debarchive.Client{
		Sources: []debarchive.Source{{URL: a.URL(), Suites: []string{"stable"}, Components: []string{"main"}}},
		Keyring: openpgp.EntityList{a.Key},
		Cache:   store,
		Now:     func() time.Time { return debtest.Now },
	}}
}

// TestPackageFromArchive resolves kernel.package and the stub through the
// archive, then rebuilds from the lock: with everything cached not one
// request is made, with an empty cache only the pinned pool paths are.
func TestPackageFromArchive(t *testing.T) {
	a := kernelArchive(t)
	ctx := context.Background()
	cache := t.TempDir()
	r := archiveResolver(a, cache)
	k, err := r.Package(ctx, "linux-image-amd64", nil)
	if err != nil {
		t.Fatal(err)
	}
	if k.Version != "6.1.0-9-amd64" || len(k.Packages) != 2 {
		t.Fatalf("kernel %s from %+v", k.Version, k.Packages)
	}
	for _, p := range k.Packages {
		if p.Architecture != "amd64" || !strings.HasPrefix(p.PoolPath, "pool/main/l/") || p.Source.URL != a.URL() || p.Source.Suite != "stable" || len(p.SHA256) != 64 {
			t.Errorf("lock entry %+v lacks architecture, pool path, source or sha256", p)
		}
	}
	stubPath, stubPkg, err := r.Stub(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(stubPath); string(b) != "MZ stub bytes" || stubPkg.Version != "252.39-1" {
		t.Fatalf("stub %q from %+v", b, stubPkg)
	}
	a.Requests()

	warm := archiveResolver(a, cache)
	if _, err := warm.Package(ctx, "linux-image-amd64", k.Packages); err != nil {
		t.Fatal(err)
	}
	if _, _, err := warm.Stub(ctx, &stubPkg); err != nil {
		t.Fatal(err)
	}
	if got := a.Requests(); len(got) != 0 {
		t.Errorf("locked build with a warm cache requested %v, want nothing", got)
	}

	cold := archiveResolver(a, t.TempDir())
	k2, err := cold.Package(ctx, "linux-image-amd64", k.Packages)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cold.Stub(ctx, &stubPkg); err != nil {
		t.Fatal(err)
	}
	got := a.Requests()
	slices.Sort(got)
	want := []string{"/debian/" + k.Packages[0].PoolPath, "/debian/" + k.Packages[1].PoolPath, "/debian/" + stubPkg.PoolPath}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("locked build with an empty cache requested %v, want only the pool paths %v", got, want)
	}
	if k2.Version != k.Version {
		t.Errorf("locked kernel %s, want %s", k2.Version, k.Version)
	}
}

// TestLockedVersionGone checks the error for a pinned package the archive
// no longer serves.
func TestLockedVersionGone(t *testing.T) {
	a := kernelArchive(t)
	gone := Package{Name: "linux-image-6.1.0-8-amd64", Version: "6.1.90-1", Architecture: "amd64", SHA256: strings.Repeat("cd", 32),
		PoolPath: "pool/main/l/linux-image-6.1.0-8-amd64/linux-image-6.1.0-8-amd64_6.1.90-1_amd64.deb",
		Source:   debarchive.Origin{URL: a.URL(), Suite: "stable", Component: "main"}}
	_, err := archiveResolver(a, t.TempDir()).Package(context.Background(), "linux-image-amd64", []Package{gone})
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"kernel.package linux-image-amd64", gone.Name, gone.Version, gone.PoolPath, gone.SHA256, "--update"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}
