//go:build unix

package cache

import (
	"os"

	"golang.org/x/sys/unix"
)

// errWouldBlock is tryLockExclusive's answer while another process holds
// the lock.
var errWouldBlock = unix.EWOULDBLOCK

func lockShared(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_SH) }

func tryLockExclusive(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}
