// Package coldplug decides which kernel modules a machine needs and loads
// them: it matches devices' modaliases (from sysfs at boot, from kernel
// uevents later) against the alias patterns the composer baked for the
// modules it shipped, and loads the matching modules after their
// dependencies, independent ones in parallel.
package coldplug

import (
	"sort"
	"strings"

	"github.com/tinyboot/tinyboot/internal/modname"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// Table is the baked module table, indexed for lookups by name and alias.
type Table struct {
	mods   []baked.Module
	byName map[string]int
	// byBus holds the alias patterns by the text before their first ':'
	// ("pci", "usb", "acpi", "cpu", "fs-btrfs" for literal names), so a
	// modalias is matched only against its own bus's patterns; wild holds
	// patterns whose bus part has a wildcard.
	byBus map[string][]pattern
	wild  []pattern
	// needed marks modules another module needs.
	needed map[string]bool
}

type pattern struct {
	glob   string // normalised
	module int
}

// NewTable indexes mods, which are in load order.
func NewTable(mods []baked.Module) *Table {
	t := &Table{mods: mods, byName: map[string]int{}, byBus: map[string][]pattern{}, needed: map[string]bool{}}
	for i, m := range mods {
		t.byName[Normalize(m.Name)] = i
		for _, a := range m.Aliases {
			p := pattern{glob: NormalizeAlias(a), module: i}
			if bus, ok := busOf(p.glob); ok {
				t.byBus[bus] = append(t.byBus[bus], p)
			} else {
				t.wild = append(t.wild, p)
			}
		}
		for _, n := range m.Needs {
			t.needed[Normalize(n)] = true
		}
	}
	return t
}

// busOf is the part of an alias before its first ':' (all of it when there
// is none); ok is false when that part has a wildcard.
func busOf(s string) (bus string, ok bool) {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s, !strings.ContainsAny(s, `*?[\`)
}

// Len is the number of modules in the table.
func (t *Table) Len() int { return len(t.mods) }

// Aliases is the number of alias patterns in the table.
func (t *Table) Aliases() int {
	n := len(t.wild)
	for _, ps := range t.byBus {
		n += len(ps)
	}
	return n
}

// Module returns the module called name ('-' and '_' alike).
func (t *Table) Module(name string) (baked.Module, bool) {
	i, ok := t.byName[Normalize(name)]
	if !ok {
		return baked.Module{}, false
	}
	return t.mods[i], true
}

// Order is module name's place in the table's load order ('-' and '_'
// alike), and Len() for a name the table lacks: for reporting modules
// loaded side by side in one order whatever order they finished in.
func (t *Table) Order(name string) int {
	if i, ok := t.byName[Normalize(name)]; ok {
		return i
	}
	return len(t.mods)
}

// Lookup returns the modules a request names, as modprobe resolves it: a
// module name, or else every module with an alias pattern matching it
// (a device's modalias, "fs-iso9660", "crypto-crc32c"), sorted by name.
func (t *Table) Lookup(request string) []string {
	if i, ok := t.byName[Normalize(request)]; ok {
		return []string{t.mods[i].Name}
	}
	s := NormalizeAlias(request)
	bus, _ := busOf(s)
	seen := map[int]bool{}
	var out []string
	for _, ps := range [][]pattern{t.byBus[bus], t.wild} {
		for _, p := range ps {
			if !seen[p.module] && Match(p.glob, s) {
				seen[p.module] = true
				out = append(out, t.mods[p.module].Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// AtBoot returns the modules to load whatever the hardware, in load order:
// those the spec lists (Always) and those no device or request could ever
// select — no alias of their own and not needed by another module — which
// is also every module of a table baked without aliases.
func (t *Table) AtBoot() []string {
	var out []string
	for _, m := range t.mods {
		if m.Always || len(m.Aliases) == 0 && !t.needed[Normalize(m.Name)] {
			out = append(out, m.Name)
		}
	}
	return out
}

// Normalize is a module name's canonical form: the kernel and modprobe
// treat '-' and '_' alike and the kernel writes '_'.
func Normalize(name string) string { return modname.Normalize(name) }

// NormalizeAlias is Normalize for alias patterns and requests, leaving
// bracket expressions alone so "[a-z]" keeps its range, as kmod does.
func NormalizeAlias(s string) string { return modname.NormalizeAlias(s) }
