// Package fsutil holds the file helpers several composer packages share:
// file hashing and atomic writes of small files (through renameio, which
// fsyncs before the rename).
package fsutil

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path (mode 0644) through a temp file, an
// fsync and a rename, so a reader never sees half a file and a crash
// leaves the old one.
func WriteFileAtomic(path string, data []byte) error {
	return WriteFileAtomicMode(path, data, 0o644)
}

// WriteFileAtomicMode is WriteFileAtomic with the file's mode. The temp
// file gets mode before any data, so a private key is never readable by
// others, not even briefly.
func WriteFileAtomicMode(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeAtomic(path, data, mode)
}

// SHA256File returns the hex sha256 of the file at path.
func SHA256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
