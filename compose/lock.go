package compose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/tinyboot/tinyboot/internal/fsutil"

	"github.com/tinyboot/tinyboot/compose/kernel"
)

// LockName is the lock file's name, next to the spec.
const LockName = "tinyboot.lock"

// LockVersion is the lock file format's version.
const LockVersion = 1

// Lock records what a spec's kernel.package resolved to, so that later
// builds use exactly those packages, offline, and a spec plus its lock
// gives the same image on any machine.
type Lock struct {
	Version int `json:"version"`
	// Kernel is the spec's kernel.package the entries were resolved from.
	Kernel string `json:"kernel"`
	// Packages are the kernel packages of every architecture the spec
	// builds for, each entry naming its own (an entry without one is
	// amd64's, as locks written before arm64 images are).
	Packages []kernel.Package `json:"packages"`
	// Zoneinfo is the sha256 of the zone database (the Go toolchain's
	// lib/time/zoneinfo.zip) shipped for the spec's timezone.
	Zoneinfo string `json:"zoneinfo_sha256,omitempty"`
	// Stub is the systemd-boot-efi package the default UEFI stub came
	// from; absent when the spec sets kernel.stub.
	Stub *kernel.Package `json:"stub,omitempty"`
	// BIOSLoader are the isolinux and syslinux-common packages the ISO's
	// BIOS loader came from; absent when the image has none or the spec
	// sets kernel.isolinux.
	BIOSLoader []kernel.Package `json:"bios_loader,omitempty"`
	// Stubs are the stub packages of a spec building for several
	// architectures, one each, in the spec's order; Stub is then unset.
	Stubs []kernel.Package `json:"stubs,omitempty"`
}

// LockPath is the lock file of the spec at specPath.
func LockPath(specPath string) string {
	return filepath.Join(filepath.Dir(specPath), LockName)
}

// ReadLock reads a lock file; a missing file is (nil, nil).
func ReadLock(path string) (*Lock, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l Lock
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%s: %w (delete it, or run tbcompose build --update)", path, err)
	}
	if l.Version != LockVersion {
		return nil, fmt.Errorf("%s: lock version %d, this tbcompose writes version %d (run tbcompose build --update)", path, l.Version, LockVersion)
	}
	pkgs := l.Packages
	if l.Stub != nil {
		pkgs = append(slices.Clip(pkgs), *l.Stub)
	}
	pkgs = append(slices.Clip(pkgs), l.BIOSLoader...)
	pkgs = append(slices.Clip(pkgs), l.Stubs...)
	for _, p := range pkgs {
		if p.Name == "" || p.Version == "" || len(p.SHA256) != 64 {
			return nil, fmt.Errorf("%s: package entry %+v lacks a name, version or sha256 (run tbcompose build --update)", path, p)
		}
	}
	return &l, nil
}

// Equal reports whether two locks pin the same packages.
func (l *Lock) Equal(o *Lock) bool {
	if l == nil || o == nil {
		return l == o
	}
	sameStub := (l.Stub == nil) == (o.Stub == nil) && (l.Stub == nil || *l.Stub == *o.Stub)
	return l.Version == o.Version && l.Kernel == o.Kernel && slices.Equal(l.Packages, o.Packages) && l.Zoneinfo == o.Zoneinfo && sameStub && slices.Equal(l.Stubs, o.Stubs) && slices.Equal(l.BIOSLoader, o.BIOSLoader)
}

// WriteLock writes l atomically.
func WriteLock(path string, l *Lock) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := fsutil.WriteFileAtomic(path, b); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
