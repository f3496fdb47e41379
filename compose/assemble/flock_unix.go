//go:build unix

package assemble

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive lock on f that lasts as long as its
// descriptor, waiting for it.
func lockFile(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_EX) }

// tryLockFile takes the lock only if nobody holds it.
func tryLockFile(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) }
