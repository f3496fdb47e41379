package kernel

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// StubPackage is the Debian package holding systemd's UEFI stub.
const StubPackage = "systemd-boot-efi"

// stubFiles are the stub's paths inside StubPackage, per architecture.
var stubFiles = map[string]string{
	"amd64": "usr/lib/systemd/boot/efi/linuxx64.efi.stub",
	"arm64": "usr/lib/systemd/boot/efi/linuxaa64.efi.stub",
	"i386":  "usr/lib/systemd/boot/efi/linuxia32.efi.stub",
}

// Stub returns the host path of systemd's UEFI stub for the image's
// architecture, from the archive's systemd-boot-efi (exactly locked when
// it is set), and the package it came from. The stub is cached by the
// package's sha256, so a locked build with it cached needs no network.
func (r *Resolver) Stub(ctx context.Context, locked *Package) (string, Package, error) {
	member, ok := stubFiles[r.arch()]
	if !ok {
		return "", Package{}, fmt.Errorf("no systemd UEFI stub is known for architecture %s; set kernel.stub", r.arch())
	}
	var p Package
	if locked != nil {
		p = *locked
	} else {
		if r.Archive == nil {
			return "", Package{}, errors.New("UEFI stub: no archive configured; set kernel.stub")
		}
		found, err := r.Archive.Find(ctx, StubPackage, r.arch(), "")
		if err != nil {
			return "", Package{}, fmt.Errorf("UEFI stub (package %s): %w; or set kernel.stub", StubPackage, err)
		}
		p = packageOf(found)
	}
	final, err := r.packageMember(ctx, "stubs", p, member)
	if err != nil {
		return "", Package{}, fmt.Errorf("UEFI stub: %w", err)
	}
	return final, p, nil
}

// IsStubCached says whether the stub of the locked package p is in the
// cache, so Stub needs no archive.
func (r *Resolver) IsStubCached(p Package) bool {
	member, ok := stubFiles[r.arch()]
	if !ok {
		return false
	}
	_, err := os.Stat(r.memberCachePath("stubs", p, member))
	return err == nil
}

// extractMember copies one regular file of a .deb's data.tar to dst,
// atomically.
func extractMember(debPath, member, dst string) error {
	found := false
	err := walkData(debPath, func(h *tar.Header, r io.Reader) (bool, error) {
		if strings.TrimPrefix(path.Clean("/"+h.Name), "/") != member {
			return false, nil
		}
		found = true
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return true, err
		}
		tmp, err := os.CreateTemp(filepath.Dir(dst), ".stub-*")
		if err != nil {
			return true, err
		}
		defer os.Remove(tmp.Name())
		if _, err := io.Copy(tmp, r); err != nil {
			tmp.Close()
			return true, err
		}
		if err := tmp.Close(); err != nil {
			return true, err
		}
		return true, os.Rename(tmp.Name(), dst)
	})
	if err == nil && !found {
		return fmt.Errorf("the package has no %s", member)
	}
	return err
}
