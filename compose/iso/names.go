package iso

import (
	"fmt"
	"sort"
	"strings"
)

// ISO9660 names. The tree is written at interchange level 1 naming (8.3
// upper-case d-characters, directories 8 characters), the form every
// reader accepts, including ISOLINUX and firmware; the real names live in
// Rock Ridge NM entries. Level 1's 8-level depth limit is relaxed, as
// Linux, libisofs and xorriso allow: kernel module paths need 10 levels
// and relocation (RR_MOVED) would only add bytes and reader bugs.

// maxNameLen is the longest Rock Ridge name accepted, as on Linux.
const maxNameLen = 255

// dChars maps a name to d-characters: upper case, anything else '_'.
func dChars(s string) string {
	b := []byte(strings.ToUpper(s))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// naturalName is the 8.3 name a Rock Ridge name maps to before collisions
// are resolved: the extension is what follows the last dot.
func naturalName(name string, dir bool) (base, ext string) {
	if !dir {
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			base, ext = name[:i], name[i+1:]
		} else {
			base = name
		}
	} else {
		base = name
	}
	base, ext = dChars(base), dChars(ext)
	if base == "" {
		base = "_"
	}
	return base[:min(len(base), 8)], ext[:min(len(ext), 3)]
}

func joinName(base, ext string, dir bool) string {
	if dir {
		return base
	}
	return base + "." + ext + ";1"
}

// assignNames gives every child of d a unique ISO9660 identifier and sorts
// d.sorted into record order. It is a function of the Rock Ridge names
// alone: children are visited in byte order of their names, each first
// claims its natural 8.3 name, and the ones that lost it take the smallest
// free numbered variant (NAME1, NAM12, ...).
func assignNames(d *node) error {
	names := make([]string, 0, len(d.children))
	for n := range d.children {
		names = append(names, n)
	}
	sort.Strings(names)
	taken := map[string]bool{}
	var losers []*node
	for _, n := range names {
		c := d.children[n]
		base, ext := naturalName(n, c.kind == kindDir)
		id := joinName(base, ext, c.kind == kindDir)
		key := nameKey(id)
		if taken[key] {
			losers = append(losers, c)
			continue
		}
		taken[key] = true
		c.isoName = id
	}
	for _, c := range losers {
		base, ext := naturalName(c.name, c.kind == kindDir)
		found := false
		for i := 1; i < 100000000 && !found; i++ {
			num := fmt.Sprint(i)
			b := base[:min(len(base), 8-len(num))] + num
			id := joinName(b, ext, c.kind == kindDir)
			key := nameKey(id)
			if !taken[key] {
				taken[key], c.isoName, found = true, id, true
			}
		}
		if !found {
			return fmt.Errorf("directory %s: no free ISO9660 name for %q", d.isoPath(), c.name)
		}
	}
	d.sorted = make([]*node, 0, len(d.children))
	for _, c := range d.children {
		d.sorted = append(d.sorted, c)
	}
	sort.Slice(d.sorted, func(i, j int) bool { return isoLess(d.sorted[i].isoName, d.sorted[j].isoName) })
	return nil
}

// nameKey is what must be unique in a directory: files and directories
// share one name space, and readers that drop the version and an empty
// extension must not see FOO and FOO.;1 as two names.
func nameKey(id string) string {
	return strings.TrimSuffix(strings.TrimSuffix(id, ";1"), ".")
}

// isoLess orders file identifiers as ECMA-119 9.3 requires: by name, then
// extension, each compared as if padded with spaces.
func isoLess(a, b string) bool {
	an, ae := splitID(a)
	bn, be := splitID(b)
	if c := padCompare(an, bn); c != 0 {
		return c < 0
	}
	return padCompare(ae, be) < 0
}

func splitID(id string) (name, ext string) {
	id = strings.TrimSuffix(id, ";1")
	name, ext, _ = strings.Cut(id, ".")
	return name, ext
}

func padCompare(a, b string) int {
	n := max(len(a), len(b))
	a += strings.Repeat(" ", n-len(a))
	b += strings.Repeat(" ", n-len(b))
	return strings.Compare(a, b)
}
