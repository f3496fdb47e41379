//go:build unix

package iso

import (
	"time"

	"golang.org/x/sys/unix"
)

// openNoFollow makes opening a symbolic link fail instead of following it.
const openNoFollow = unix.O_NOFOLLOW

// setTimesNoFollow stamps p's access and modification times with t,
// without following p when it is a symbolic link.
func setTimesNoFollow(p string, t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}
