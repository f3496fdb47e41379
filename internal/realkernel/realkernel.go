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
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/internal/testcache"
)

// Package is a kernel image package found on disk, with the identity its
// file name (NAME_VERSION_....deb, as apt and tinyboot's cache name them)
// states. Tests check the package's
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
	pattern := "linux-image-[0-9]*_*.deb"
	if k := testcache.Kernel(); k != testcache.DefaultKernel && strings.HasPrefix(k, "linux-image-") && strings.ContainsAny(k, "0123456789") {
		pattern = k + "_*.deb"
	}
	dirs := []string{filepath.Join(testcache.Dir(), "debs")}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "tinyboot", "debs"))
	}
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, pattern))
		var pkgs []Package
		for _, m := range matches {
			if p, ok := parseName(m); ok {
				pkgs = append(pkgs, p)
			}
		}
		if len(pkgs) > 0 {
			// Newest by modification time: the one the last build fetched.
			sort.Slice(pkgs, func(i, j int) bool { return modTime(pkgs[i].Path) > modTime(pkgs[j].Path) })
			return pkgs[0]
		}
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

// parseName splits the file name NAME_VERSION_REST.deb; the version's
// epoch colon is written %3a.
func parseName(path string) (Package, bool) {
	base := strings.TrimSuffix(filepath.Base(path), ".deb")
	parts := strings.Split(base, "_")
	if len(parts) < 3 {
		return Package{}, false
	}
	v, err := url.PathUnescape(parts[1])
	if err != nil {
		return Package{}, false
	}
	return Package{Path: path, Name: parts[0], Version: v}, true
}
