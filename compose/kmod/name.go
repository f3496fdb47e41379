package kmod

import (
	"path"
	"strings"
)

// Normalize returns the canonical form of a module name. The kernel and
// modprobe treat '-' and '_' in module names as the same character; the
// canonical form uses '_', as the kernel does in /sys/module.
func Normalize(name string) string {
	return strings.ReplaceAll(name, "-", "_")
}

// normalizeAlias is Normalize for alias patterns and lookups, leaving
// bracket expressions alone so that "[a-z]" keeps its range, as kmod's
// alias_normalize does.
func normalizeAlias(s string) string {
	if !strings.Contains(s, "-") {
		return s
	}
	b := []byte(s)
	inBracket := false
	for i, c := range b {
		switch {
		case c == '[':
			inBracket = true
		case c == ']':
			inBracket = false
		case c == '-' && !inBracket:
			b[i] = '_'
		}
	}
	return string(b)
}

// nameFromPath derives a module name from its file name, for modules
// without a name= entry and for modules.builtin.
func nameFromPath(p string) string {
	base := path.Base(p)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		base = strings.TrimSuffix(base, ext)
	}
	return Normalize(strings.TrimSuffix(base, ".ko"))
}
