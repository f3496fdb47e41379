//go:build !unix

package iso

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// openNoFollow is not available here; copyTree checks links itself.
const openNoFollow = 0

// setTimesNoFollow stamps p's times with t. Links cannot be stamped
// without following them on this system, so they are refused.
func setTimesNoFollow(p string, t time.Time) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link: files with links are only supported on Linux and macOS build hosts, not %s", p, runtime.GOOS)
	}
	return os.Chtimes(p, t, t)
}
