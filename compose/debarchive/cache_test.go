package debarchive

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/internal/cache"
	"github.com/tinyboot/tinyboot/internal/debtest"
)

// TestOffline checks a build whose archive cannot be reached: from a
// cached InRelease older than a day it resolves with a warning naming
// the age; with --update, an expired Valid-Until, or nothing cached it
// fails, saying what to do.
func TestOffline(t *testing.T) {
	tests := []struct {
		name string
		// warm says whether a build ran online first.
		warm   bool
		later  time.Duration
		update bool
		// status, when set, is the archive's answer instead of none.
		status int
		// want is in the warning on success, in the error on failure.
		want []string
		ok   bool
	}{
		{"stale cache", true, 3 * 24 * time.Hour, false, 0, []string{"archive unreachable", "suite=stable-security", "fetched=\"3 days ago\""}, true},
		{"stale cache, server error", true, 30 * time.Hour, false, http.StatusServiceUnavailable, []string{"archive unreachable", "fetched=\"30 hours ago\"", "503"}, true},
		{"stale cache, 404", true, 3 * 24 * time.Hour, false, http.StatusNotFound, []string{"suite stable", "404", "check the URL and the suite"}, false},
		{"stale cache, --update", true, 3 * 24 * time.Hour, true, 0, []string{"suite stable", "--update needs the archive", "build without --update", "3 days ago"}, false},
		{"stale cache past Valid-Until", true, 8 * 24 * time.Hour, false, 0, []string{"suite stable-security", "cannot stand in", "Valid-Until"}, false},
		{"empty cache", false, 0, false, 0, []string{"suite stable", "reachable", "check the URL and the network"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := debtest.NewArchive(t, kernelSuites()...)
			ctx := context.Background()
			dir := t.TempDir()
			if tt.warm {
				if _, err := client(a, dir, "stable", "stable-security").Resolve(ctx, "linux-image-amd64", "amd64", isLinuxImage); err != nil {
					t.Fatal(err)
				}
			}
			if tt.status != 0 {
				a.SetStatus(tt.status)
			} else {
				a.SetUnreachable(true)
			}
			a.Requests()
			var log bytes.Buffer
			c := client(a, dir, "stable", "stable-security")
			c.Log = slog.New(slog.NewTextHandler(&log, nil))
			c.Now = func() time.Time { return debtest.Now.Add(tt.later) }
			c.Update = tt.update
			pkgs, err := c.Resolve(ctx, "linux-image-amd64", "amd64", isLinuxImage)
			if len(a.Requests()) == 0 {
				t.Error("the client did not try the archive")
			}
			msg := log.String()
			if !tt.ok {
				if err == nil {
					t.Fatalf("resolved %v offline", names(pkgs))
				}
				msg = err.Error()
			} else if err != nil {
				t.Fatal(err)
			} else if got := names(pkgs); !slices.Equal(got, []string{"linux-image-amd64=6.1.192-3@stable-security", "linux-image-6.1.0-57-amd64=6.1.192-3@stable-security"}) {
				t.Errorf("resolved %v offline", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%s lacks %q:\n%s", map[bool]string{true: "warning", false: "error"}[tt.ok], w, msg)
				}
			}
		})
	}
}

// TestArchiveInCacheLayer checks that what the client stores is ordinary
// entries of tinyboot's cache: counted by kind and pruned by the limit
// like every other entry.
func TestArchiveInCacheLayer(t *testing.T) {
	a := debtest.NewArchive(t, kernelSuites()...)
	dir := t.TempDir()
	fetchKernel(t, client(a, dir, "stable"))
	// A later process sees the entries and may prune them.
	later := cache.Open(dir)
	usage, err := later.Info()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, u := range usage {
		got[u.Kind] = u.Entries
	}
	if got[DebsKind] != 2 || got[IndexesKind] != 1 || got[ReleasesKind] != 1 || len(got) != 3 {
		t.Errorf("cache info = %v, want 2 debs, 1 index, 1 InRelease", got)
	}
	if freed, err := later.Prune(0); err != nil || freed == 0 {
		t.Fatalf("prune to 0 freed %d, %v", freed, err)
	}
	if e, _ := later.Entries(); len(e) != 0 {
		t.Errorf("prune to 0 left %v", e)
	}
}

// TestMigrateLegacyCache moves a cache the client wrote before it used
// the cache layer into its kinds: afterwards a build needs no request
// that the old cache would have saved, and the old directory is gone.
func TestMigrateLegacyCache(t *testing.T) {
	a := debtest.NewArchive(t, kernelSuites()...)
	ctx := context.Background()
	dir := t.TempDir()
	pkgs, err := client(a, t.TempDir(), "stable").Resolve(ctx, "linux-image-amd64", "amd64", isLinuxImage)
	if err != nil {
		t.Fatal(err)
	}
	// The old layout: <cache>/archive/{dists/<url>/<suite>/InRelease(.fetched),indexes/sha256-…,debs/sha256-….deb}.
	old := filepath.Join(dir, legacyDir)
	write := func(rel string, b []byte) {
		t.Helper()
		p := filepath.Join(old, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ir := a.Get("dists/stable/InRelease")
	write("dists/"+urlKey(a.URL())+"/stable/InRelease", ir)
	write("dists/"+urlKey(a.URL())+"/stable/InRelease.fetched", []byte(debtest.Now.Add(-time.Hour).Format(time.RFC3339)))
	gz := a.Get("dists/stable/main/binary-amd64/Packages.gz")
	write("indexes/sha256-"+debtest.SHA256(gz)+".gz", gz)
	for _, p := range pkgs {
		write("debs/sha256-"+p.SHA256+".deb", a.Get(p.Filename))
	}
	store := cache.Open(dir)
	if err := MigrateLegacyCache(store); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); err == nil {
		t.Error("the old archive directory is still there")
	}
	a.Requests()
	fetchKernel(t, client(a, dir, "stable"))
	if got := a.Requests(); len(got) != 0 {
		t.Errorf("after migrating, a build requested %v, want nothing", got)
	}
	if err := MigrateLegacyCache(store); err != nil {
		t.Errorf("migrating twice: %v", err)
	}
}
