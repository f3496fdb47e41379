// Package testcache gives the tests of every package one cache of their
// own, apart from the user's: a directory under the system temp dir that
// the tests use as XDG_CACHE_HOME. It is shared by the test binaries of one
// machine (so Debian's kernel is downloaded and unpacked once, not once per
// package), kept between runs, and never the user's ~/.cache/tinyboot.
//
// It also names the kernel package the suite runs against, so that the
// whole suite can be run against any kernel the archive serves:
// TINYBOOT_TEST_KERNEL=linux-image-6.1.0-50-amd64 go test ./...
package testcache

import (
	"fmt"
	"os"
	"path/filepath"
)

// RootEnv overrides the test cache's root directory.
const RootEnv = "TINYBOOT_TEST_CACHE"

// KernelEnv names the kernel package the tests build with.
const KernelEnv = "TINYBOOT_TEST_KERNEL"

// DefaultKernel is the package the tests build with when KernelEnv is unset.
const DefaultKernel = "linux-image-amd64"

// Root is the directory the tests use as XDG_CACHE_HOME:
// $TINYBOOT_TEST_CACHE, else <temp dir>/tinyboot-test-cache.
func Root() string {
	if dir := os.Getenv(RootEnv); dir != "" && filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(os.TempDir(), "tinyboot-test-cache")
}

// Dir is tinyboot's cache inside Root, as compose.CacheDir finds it there.
func Dir() string { return filepath.Join(Root(), "tinyboot") }

// Use points XDG_CACHE_HOME of this process, and of every command it
// starts, at Root. Test packages that build images call it from TestMain,
// before any test runs.
func Use() error {
	if err := os.MkdirAll(Root(), 0o755); err != nil {
		return fmt.Errorf("test cache: %w", err)
	}
	return os.Setenv("XDG_CACHE_HOME", Root())
}

// Kernel is the kernel package the tests build with: $TINYBOOT_TEST_KERNEL,
// else linux-image-amd64.
func Kernel() string {
	if k := os.Getenv(KernelEnv); k != "" {
		return k
	}
	return DefaultKernel
}
