package debarchive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tinyboot/tinyboot/internal/cache"
)

// What the client keeps in tinyboot's cache (internal/cache), each kind
// under the cache's size limit and shown by tbcompose cache info. Only
// verified files are ever stored.
const (
	// DebsKind holds .debs named by their sha256 ("<sum>.deb"): the name
	// is what was verified, and a .deb downloaded from a kernel.deb url
	// with the same hash is the same entry.
	DebsKind = "debs"
	// IndexesKind holds Packages files named by the sha256 their
	// InRelease gives, so an unchanged index is never fetched twice.
	IndexesKind = "indexes"
	// ReleasesKind holds each source's suite's verified InRelease with
	// the time it was fetched, which decides when it is asked for again.
	ReleasesKind = "inrelease"
)

func debName(sum string) string { return sum + ".deb" }

func indexName(sum, ext string) string { return "sha256-" + sum + ext }

// releaseName is readable (the archive and suite) rather than a hash, so
// that a cache written before the archive used tinyboot's cache layer
// migrates by renaming.
func releaseName(url, suite string) string {
	return urlKey(url) + "_" + strings.ReplaceAll(suite, "/", "_") + ".InRelease"
}

// urlKey turns an archive URL into a cache name element.
func urlKey(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	return strings.NewReplacer("/", "_", ":", "_", "?", "_", "#", "_", "%", "_").Replace(u)
}

// fetchedHeader starts a cached InRelease entry: the entry's modification
// time is the cache's last-use stamp, so the fetch time is kept inside.
const fetchedHeader = "Tinyboot-Fetched: "

// cachedRelease is an InRelease entry: the file as the archive served it
// and when it was fetched, by the client's clock.
type cachedRelease struct {
	data    []byte
	fetched time.Time
}

func encodeRelease(w io.Writer, data []byte, fetched time.Time) error {
	if _, err := io.WriteString(w, fetchedHeader+fetched.UTC().Format(time.RFC3339)+"\n"); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

func readCachedRelease(p string) (*cachedRelease, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	line, data, ok := bytes.Cut(b, []byte("\n"))
	v, isHeader := strings.CutPrefix(string(line), fetchedHeader)
	if !ok || !isHeader {
		return nil, fmt.Errorf("cached InRelease %s lacks its fetch time", p)
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, fmt.Errorf("cached InRelease %s: %w", p, err)
	}
	return &cachedRelease{data: data, fetched: t}, nil
}

// legacyDir is where the client kept its files before it used tinyboot's
// cache layer: <cache>/archive/{dists,indexes,debs}, outside the size
// limit.
const legacyDir = "archive"

// MigrateLegacyCache moves what an older tinyboot kept in <cache>/archive
// into the cache's kinds (the .debs, the indexes, the InRelease files with
// their fetch times) and removes the old directory, so that a warm cache
// stays warm, offline too. Files that cannot be moved are dropped: each
// is a verified download, fetched again when needed. Without an old
// directory it does nothing.
func MigrateLegacyCache(store *cache.Cache) error {
	old := filepath.Join(store.Root(), legacyDir)
	if _, err := os.Stat(filepath.Join(old, "debs")); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(old, "dists")); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	move := func(from, kind, name string) {
		dir, err := store.Dir(kind)
		if err != nil {
			return
		}
		if err := os.Rename(from, filepath.Join(dir, name)); err == nil {
			store.Use(filepath.Join(dir, name))
		}
	}
	debs, _ := filepath.Glob(filepath.Join(old, "debs", "sha256-*.deb"))
	for _, p := range debs {
		move(p, DebsKind, strings.TrimPrefix(filepath.Base(p), "sha256-"))
	}
	idxs, _ := filepath.Glob(filepath.Join(old, "indexes", "sha256-*"))
	for _, p := range idxs {
		move(p, IndexesKind, filepath.Base(p))
	}
	// dists/<urlKey>/<suite>/InRelease beside InRelease.fetched.
	dists := filepath.Join(old, "dists")
	_ = filepath.WalkDir(dists, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "InRelease" {
			return nil
		}
		rel, err := filepath.Rel(dists, filepath.Dir(p))
		if err != nil {
			return nil
		}
		site, suite, ok := strings.Cut(filepath.ToSlash(rel), "/")
		if !ok {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		stamp, err := os.ReadFile(p + ".fetched")
		if err != nil {
			return nil
		}
		fetched, err := time.Parse(time.RFC3339, strings.TrimSpace(string(stamp)))
		if err != nil {
			return nil
		}
		_, _ = store.Store(ReleasesKind, site+"_"+strings.ReplaceAll(suite, "/", "_")+".InRelease", func(w io.Writer) error {
			return encodeRelease(w, data, fetched)
		})
		return nil
	})
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("cache: remove the old archive cache %s: %w", old, err)
	}
	return nil
}

// describeAge says how long ago a file was fetched, for warnings.
func describeAge(d time.Duration) string {
	switch {
	case d < 2*time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}
