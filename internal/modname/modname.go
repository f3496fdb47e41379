// Package modname spells kernel module names and aliases the way the
// kernel and modprobe compare them. The composer (which bakes them) and
// the agent (which matches them at boot) must agree, so both use this.
package modname

import "strings"

// Normalize returns the canonical form of a module name. The kernel and
// modprobe treat '-' and '_' in module names as the same character; the
// canonical form uses '_', as the kernel does in /sys/module.
func Normalize(name string) string {
	return strings.ReplaceAll(name, "-", "_")
}

// NormalizeAlias is Normalize for alias patterns and lookups, leaving
// bracket expressions alone so that "[a-z]" keeps its range, as kmod's
// alias_normalize does.
func NormalizeAlias(s string) string {
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
