// Package realkernel finds a real Debian kernel package for tests that
// read one, in the tests' own cache (internal/testcache; any build of a
// spec with kernel.package in the tests fills it, and .ci/run builds the
// example into it first) or, read only, in tinyboot's cache of the user.
// Under CI=true a missing package fails the test rather than skipping it.
//
// Nothing here names a version: the archive moves (Debian's security
// updates change the ABI every few weeks), so tests take what they expect
// from the package they were given.
package realkernel

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/internal/decompress"
	"github.com/tinyboot/tinyboot/internal/testcache"
)

// Package is a kernel image package found on disk, with the identity its
// control data states. Tests check the package's
// own control fields against it.
type Package struct {
	Path    string
	Name    string // linux-image-6.1.0-57-amd64
	Version string // 6.1.192-3
}

// Release is the kernel release the package installs, by Debian's naming
// (linux-image-RELEASE, linux-image-RELEASE-unsigned): the directory under
// /lib/modules and the suffix of /boot/vmlinuz-.
func (p Package) Release() string {
	r := strings.TrimPrefix(p.Name, "linux-image-")
	return strings.TrimSuffix(r, "-unsigned")
}

// Deb returns the path of a linux-image .deb, or ends the test.
func Deb(t testing.TB) string {
	t.Helper()
	return Find(t).Path
}

// Find returns a versioned linux-image package: the one TINYBOOT_TEST_KERNEL
// names when it names one (linux-image-6.1.0-50-amd64), else the newest in
// the caches.
func Find(t testing.TB) Package {
	t.Helper()
	// tinyboot's cache keeps .debs by content (debs/<sha256>.deb), so the
	// package name comes from each file's control data. archive/debs is
	// where the archive client kept them before it used the cache layer,
	// in a cache no build has migrated yet.
	dirs := []string{filepath.Join(testcache.Dir(), "debs"), filepath.Join(testcache.Dir(), "archive", "debs")}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "tinyboot", "debs"), filepath.Join(home, ".cache", "tinyboot", "archive", "debs"))
	}
	want := testcache.Kernel()
	versioned := want != testcache.DefaultKernel && strings.HasPrefix(want, "linux-image-") && strings.ContainsAny(want, "0123456789")
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, "*.deb"))
		var pkgs []Package
		for _, m := range matches {
			name, version, err := control(m)
			if err != nil || !kernelImage.MatchString(name) || (versioned && name != want) {
				continue
			}
			pkgs = append(pkgs, Package{Path: m, Name: name, Version: version})
		}
		if len(pkgs) > 0 {
			// Newest by modification time: the one the last build fetched.
			sort.Slice(pkgs, func(i, j int) bool { return modTime(pkgs[i].Path) > modTime(pkgs[j].Path) })
			return pkgs[0]
		}
	}
	pattern := "linux-image-<release>"
	if versioned {
		pattern = want
	}
	msg := "no Debian kernel package (" + pattern + ") in the tests' cache " + testcache.Dir() +
		"; fill it with `XDG_CACHE_HOME=" + testcache.Root() + " go run ./cmd/tbcompose build examples/tinyboot.yaml -o /tmp/x.iso` (.ci/run does)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return Package{}
}

func modTime(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.ModTime().UnixNano()
}

// kernelImage matches the versioned kernel image packages, not the meta
// package.
var kernelImage = regexp.MustCompile(`^linux-image-[0-9]`)

// control reads the Package and Version fields of a .deb, by hand: the
// package's own reader (compose/deb) cannot be imported by the tests of
// compose/deb, which use this one. A .deb is an ar archive whose
// control.tar.* member holds ./control.
func control(path string) (name, version string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	magic := make([]byte, 8)
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != "!<arch>\n" {
		return "", "", fmt.Errorf("%s: not an ar archive", path)
	}
	for {
		hdr := make([]byte, 60)
		if _, err := io.ReadFull(f, hdr); err != nil {
			return "", "", fmt.Errorf("%s: no control member", path)
		}
		member := strings.TrimRight(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil {
			return "", "", fmt.Errorf("%s: bad ar header", path)
		}
		if !strings.HasPrefix(member, "control.tar") {
			if _, err := f.Seek(size+size%2, io.SeekCurrent); err != nil {
				return "", "", err
			}
			continue
		}
		format, ok := decompress.ByExt(strings.TrimPrefix(member, "control.tar"))
		if !ok {
			return "", "", fmt.Errorf("%s: %s: unknown compression", path, member)
		}
		rc, err := decompress.NewReader(format, io.LimitReader(f, size))
		if err != nil {
			return "", "", err
		}
		defer rc.Close()
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err != nil {
				return "", "", fmt.Errorf("%s: no ./control: %v", path, err)
			}
			if strings.TrimPrefix(h.Name, "./") != "control" {
				continue
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return "", "", err
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "Package: "); ok {
					name = strings.TrimSpace(v)
				}
				if v, ok := strings.CutPrefix(line, "Version: "); ok {
					version = strings.TrimSpace(v)
				}
			}
			return name, version, nil
		}
	}
}
