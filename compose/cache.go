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
