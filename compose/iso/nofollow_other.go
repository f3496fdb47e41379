//go:build !unix

package iso

// openNoFollow is 0 where the system has no O_NOFOLLOW: payload links are
// refused when the tree is walked, not again at open.
const openNoFollow = 0
