//go:build unix

package iso

import "golang.org/x/sys/unix"

// openNoFollow makes opening a payload file fail on a symbolic link, so
// a link swapped in after the tree was walked is not followed.
const openNoFollow = unix.O_NOFOLLOW
