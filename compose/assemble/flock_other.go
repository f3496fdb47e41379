//go:build !unix

package assemble

import (
	"errors"
	"os"
)

// lockFile does nothing here: without flock, concurrent builds into one
// output directory are not kept apart on this system.
func lockFile(*os.File) error { return nil }

// tryLockFile always fails, so a cleanup never removes a temp file that a
// live build may still be writing.
func tryLockFile(*os.File) error { return errors.New("file locks are not supported on this system") }
