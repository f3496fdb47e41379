package compose

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
)

// CacheDir is tinyboot's cache: $XDG_CACHE_HOME/tinyboot, else
// ~/.cache/tinyboot.
func CacheDir() (string, error) {
	if dir := os.Getenv("XDG_CACHE_HOME"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "tinyboot"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find cache directory: %w (set XDG_CACHE_HOME)", err)
	}
	return filepath.Join(home, ".cache", "tinyboot"), nil
}

func sha256Bytes(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// writeFileAtomic writes a cache file so that readers never see half of it.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
