package kmod

import (
	"errors"
	"fmt"
	"github.com/tinyboot/tinyboot/internal/editdist"
	"path"
	"slices"
	"sort"
	"strings"
)

// UnknownModuleError reports a requested name that is neither a module
// nor an alias of one.
type UnknownModuleError struct {
	Name string
	// Suggestions are up to three module names close to Name.
	Suggestions []string
}

func (e *UnknownModuleError) Error() string {
	msg := fmt.Sprintf("unknown kernel module %q", e.Name)
	switch n := len(e.Suggestions); n {
	case 0:
		return msg
	case 1:
		return msg + " (did you mean " + e.Suggestions[0] + "?)"
	default:
		return msg + " (did you mean " + strings.Join(e.Suggestions[:n-1], ", ") + " or " + e.Suggestions[n-1] + "?)"
	}
}

// MissingDependencyError reports a module whose depends= names a module
// that is neither in the tree nor built in.
type MissingDependencyError struct {
	Module     string
	Dependency string
}

func (e *MissingDependencyError) Error() string {
	return fmt.Sprintf("kernel module %s depends on %s, which is neither in the module tree nor built in", e.Module, e.Dependency)
}

// CycleError reports modules that depend on each other. Cycle starts and
// ends with the same module.
type CycleError struct {
	Cycle []string
}

func (e *CycleError) Error() string {
	return "kernel module dependency cycle: " + strings.Join(e.Cycle, " -> ")
}

// Resolve returns the modules to load for the requested names, in load
// order: every module after its depends= and softdep pre: modules.
//
// A name is looked up as a module name first ('-' and '_' are the same),
// then matched against alias patterns, like modprobe; an alias may select
// several modules, and all are loaded. Built-in modules are skipped, as
// are softdep targets that do not exist, and softdep edges that would
// close a cycle (softdeps are advisory). softdep post: entries are not
// followed: nothing needs them loaded for the requested modules to work.
//
// The order is deterministic: requested names in the order given, each
// preceded depth-first by its softdep pre: modules, then its depends=
// modules, each group in name order. All problems
// (unknown names, missing dependencies, cycles) are returned joined, and
// then the module list is nil.
func (x *Index) Resolve(names []string) ([]Module, error) {
	r := resolver{x: x, state: map[string]int{}}
	for _, name := range names {
		targets, builtin := x.lookup(name)
		if len(targets) == 0 {
			if !builtin {
				r.errs = append(r.errs, &UnknownModuleError{Name: name, Suggestions: x.suggest(name)})
			}
			continue
		}
		for _, t := range targets {
			r.visit(t)
		}
	}
	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}
	return r.order, nil
}

const (
	unvisited = iota
	visiting
	done
)

type resolver struct {
	x     *Index
	state map[string]int
	stack []string
	order []Module
	errs  []error
}

// visit appends m after its dependencies (depth-first post-order).
func (r *resolver) visit(name string) {
	switch r.state[name] {
	case done:
		return
	case visiting:
		i := slices.Index(r.stack, name)
		cycle := append(slices.Clone(r.stack[i:]), name)
		r.errs = append(r.errs, &CycleError{Cycle: cycle})
		return
	}
	m := r.x.modules[name]
	r.state[name] = visiting
	r.stack = append(r.stack, name)

	// Like modprobe, softdep pre: modules come before dependencies.
	soft := slices.Clone(m.Info.SoftdepPre)
	sort.Strings(soft)
	for _, s := range slices.Compact(soft) {
		targets, _ := r.x.lookup(s)
		for _, t := range targets {
			if r.state[t] != visiting {
				r.visit(t)
			}
		}
	}

	deps := slices.Clone(m.Info.Depends)
	sort.Strings(deps)
	for _, d := range slices.Compact(deps) {
		d = Normalize(d)
		switch {
		case r.x.builtin[d]:
		case r.x.modules[d] != nil:
			r.visit(d)
		default:
			r.errs = append(r.errs, &MissingDependencyError{Module: name, Dependency: d})
		}
	}
	r.stack = r.stack[:len(r.stack)-1]
	r.state[name] = done
	r.order = append(r.order, *m)
}

// lookup finds the loadable modules a name stands for, sorted by name,
// and whether it names (or matches an alias of) a built-in module.
func (x *Index) lookup(name string) (modules []string, builtin bool) {
	n := Normalize(name)
	if x.builtin[n] {
		return nil, true
	}
	if _, ok := x.modules[n]; ok {
		return []string{n}, false
	}
	a := normalizeAlias(name)
	seen := map[string]bool{}
	for _, al := range x.aliases {
		if seen[al.module] {
			continue
		}
		// path.Match is fnmatch without FNM_PATHNAME's special '/'
		// handling being relevant: module aliases contain no '/'. A
		// malformed pattern simply does not match.
		if ok, _ := path.Match(al.pattern, a); !ok {
			continue
		}
		if al.builtin {
			builtin = true
			continue
		}
		seen[al.module] = true
		modules = append(modules, al.module)
	}
	sort.Strings(modules)
	return modules, builtin && len(modules) == 0
}

// suggest returns up to three module names within a small edit distance
// of name, closest first.
func (x *Index) suggest(name string) []string {
	n := Normalize(name)
	limit := max(1, len(n)/4)
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	consider := func(m string) {
		if abs(len(m)-len(n)) > limit {
			return
		}
		if d := editdist.Levenshtein(n, m); d <= limit {
			cands = append(cands, cand{m, d})
		}
	}
	for m := range x.modules {
		consider(m)
	}
	for m := range x.builtin {
		consider(m)
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].dist != cands[j].dist {
			return cands[i].dist < cands[j].dist
		}
		return cands[i].name < cands[j].name
	})
	var out []string
	for _, c := range cands {
		if len(out) == 3 {
			break
		}
		out = append(out, c.name)
	}
	return out
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
