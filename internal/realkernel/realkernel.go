// Package realkernel finds a real Debian kernel package for tests that
// read one: in tinyboot's own cache (any build of a spec with
// kernel.package fills it; .ci/run builds the example first) or in
// /var/cache/tbk. Under CI=true a missing package fails the test rather
// than skipping it.
package realkernel

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// pattern matches the versioned image packages, not the meta package.
const pattern = "linux-image-[0-9]*-amd64_*.deb"

// Deb returns the path of a linux-image .deb, or ends the test.
func Deb(t testing.TB) string {
	t.Helper()
	var dirs []string
	if x := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(x) {
		dirs = append(dirs, filepath.Join(x, "tinyboot", "debs"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "tinyboot", "debs"))
	}
	dirs = append(dirs, "/var/cache/tbk")
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, pattern))
		if len(matches) > 0 {
			sort.Strings(matches)
			return matches[len(matches)-1]
		}
	}
	msg := "no Debian kernel package (" + pattern + ") in tinyboot's cache or /var/cache/tbk; run `go run ./cmd/tbcompose build examples/tinyboot.yaml` once to fetch it"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
