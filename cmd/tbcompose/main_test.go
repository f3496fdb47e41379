package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/tinyboot/tinyboot/internal/testcache"
)

// TestMain points every build of these tests, and of the tbcompose
// processes they start, at the tests' own cache, never the user's.
func TestMain(m *testing.M) {
	if err := testcache.Use(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
