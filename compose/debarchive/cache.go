package debarchive

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Cache stores what the client fetched, by key. Keys are slash-separated
// relative paths ("debs/sha256-….deb"); a file is stored only once it is
// complete and verified, so a present key is always trustworthy. The
// interface is small on purpose: any content store with atomic writes
// (tinyboot's cache layer) can carry it.
type Cache interface {
	// Lookup returns the path of key's file and when it was stored, or
	// ok=false when the key is absent.
	Lookup(key string) (path string, stored int64, ok bool)
	// Store writes key's file with write and publishes it atomically;
	// when write fails nothing is stored.
	Store(key string, write func(w io.Writer) error) (path string, err error)
}

// DirCache is a Cache in a directory of the host.
type DirCache struct {
	// Root is the directory holding the stored files.
	Root string
}

func (c DirCache) path(key string) (string, error) {
	clean := filepath.ToSlash(filepath.Clean(filepath.FromSlash(key)))
	if key == "" || clean != key || strings.HasPrefix(clean, "../") || filepath.IsAbs(key) {
		return "", fmt.Errorf("cache key %q is not a clean relative path", key)
	}
	return filepath.Join(c.Root, filepath.FromSlash(key)), nil
}

// Lookup implements Cache; stored is the file's modification time in
// Unix seconds.
func (c DirCache) Lookup(key string) (string, int64, bool) {
	p, err := c.path(key)
	if err != nil {
		return "", 0, false
	}
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return "", 0, false
	}
	return p, fi.ModTime().Unix(), true
}

// Store implements Cache with a temporary file renamed into place.
func (c DirCache) Store(key string, write func(w io.Writer) error) (string, error) {
	p, err := c.path(key)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".part-*")
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return p, nil
}
