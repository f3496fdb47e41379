package kmod

import (
	"slices"
	"sort"
)

// Needs returns the loadable modules that must be loaded before m, by
// name and sorted: its depends= modules and the modules its softdep pre:
// entries stand for, without built-in ones and without m itself. These
// are the edges Resolve orders by, for a loader that loads modules one
// dependency graph at a time instead of in one list.
func (x *Index) Needs(m Module) []string {
	var out []string
	for _, s := range m.Info.SoftdepPre {
		targets, _ := x.lookup(s)
		out = append(out, targets...)
	}
	for _, d := range m.Info.Depends {
		d = Normalize(d)
		if !x.builtin[d] && x.modules[d] != nil {
			out = append(out, d)
		}
	}
	out = slices.DeleteFunc(out, func(n string) bool { return n == m.Name })
	if len(out) == 0 {
		return nil
	}
	sort.Strings(out)
	return slices.Compact(out)
}
