package kmod

import (
	"path"
	"strings"

	"github.com/tinyboot/tinyboot/internal/modname"
)

// Normalize returns the canonical form of a module name ('_' for '-',
// see modname.Normalize).
func Normalize(name string) string { return modname.Normalize(name) }

// normalizeAlias is Normalize for alias patterns and lookups.
func normalizeAlias(s string) string { return modname.NormalizeAlias(s) }

// nameFromPath derives a module name from its file name, for modules
// without a name= entry and for modules.builtin.
func nameFromPath(p string) string {
	base := path.Base(p)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		base = strings.TrimSuffix(base, ext)
	}
	return Normalize(strings.TrimSuffix(base, ".ko"))
}
