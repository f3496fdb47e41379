// Package zoneinfo finds the time zone database an image ships: the Go
// toolchain's own lib/time/zoneinfo.zip, never the build host's
// /usr/share/zoneinfo, so that an image does not depend on the machine
// that built it and a lock can pin the database by its sha256.
package zoneinfo

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Database is one zoneinfo.zip read into memory (about 400 KB).
type Database struct {
	// Path is where it was read from.
	Path string
	// SHA256 is the file's hex SHA-256, for the lock.
	SHA256 string
	// Zones are the zone names it holds, sorted ("Europe/Berlin").
	Zones []string
	data  []byte
}

// Locate returns the zoneinfo.zip of the go command on PATH (the
// toolchain that builds the app and the agent).
func Locate(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("the go command is not on PATH; timezone ships the Go toolchain's zone database: install Go (https://go.dev/dl)")
		}
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	root := strings.TrimSpace(string(out))
	if root == "" {
		return "", errors.New("go env GOROOT printed nothing")
	}
	return filepath.Join(root, "lib", "time", "zoneinfo.zip"), nil
}

// Open reads the database at path.
func Open(path string) (*Database, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("zone database: %w", err)
	}
	r, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("zone database %s: %w", path, err)
	}
	sum := sha256.Sum256(b)
	db := &Database{Path: path, SHA256: hex.EncodeToString(sum[:]), data: b}
	for _, f := range r.File {
		if !strings.HasSuffix(f.Name, "/") {
			db.Zones = append(db.Zones, f.Name)
		}
	}
	slices.Sort(db.Zones)
	return db, nil
}

// Load is Open(Locate()).
func Load(ctx context.Context) (*Database, error) {
	p, err := Locate(ctx)
	if err != nil {
		return nil, err
	}
	return Open(p)
}

// Has reports whether zone is in the database.
func (db *Database) Has(zone string) bool {
	_, ok := slices.BinarySearch(db.Zones, zone)
	return ok
}

// Walk calls fn for every zone with its TZif data, in name order.
func (db *Database) Walk(fn func(name string, tzif []byte) error) error {
	r, err := zip.NewReader(bytes.NewReader(db.data), int64(len(db.data)))
	if err != nil {
		return fmt.Errorf("zone database %s: %w", db.Path, err)
	}
	files := slices.Clone(r.File)
	slices.SortFunc(files, func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
	for _, f := range files {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		// The names come from a file we did not write: nothing may
		// climb out of the directory it is unpacked to.
		if !filepath.IsLocal(f.Name) {
			return fmt.Errorf("zone database %s: bad entry name %q", db.Path, f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("zone database %s: %s: %w", db.Path, f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
		rc.Close()
		if err != nil {
			return fmt.Errorf("zone database %s: %s: %w", db.Path, f.Name, err)
		}
		if err := fn(f.Name, b); err != nil {
			return err
		}
	}
	return nil
}

// TZif returns one zone's data.
func (db *Database) TZif(zone string) ([]byte, error) {
	var out []byte
	err := db.Walk(func(name string, b []byte) error {
		if name == zone {
			out = b
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("zone %q is not in %s", zone, db.Path)
	}
	return out, nil
}
