package debarchive

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tinyboot/tinyboot/compose/deb"
	"github.com/tinyboot/tinyboot/internal/editdist"
	"pault.ag/go/debian/version"
)

// NotFoundError says a package is not in any configured archive for the
// architecture asked for.
type NotFoundError struct {
	Name, Version, Arch string
	// Similar are names close to Name that do exist.
	Similar []string
	// OtherArchs are architectures the package does exist for.
	OtherArchs []string
	Sources    []Source
}

func (e *NotFoundError) Error() string {
	what := "package " + e.Name
	if e.Version != "" {
		what += " version " + e.Version
	}
	msg := fmt.Sprintf("%s is not in the archive for %s (searched %s)", what, e.Arch, describeSources(e.Sources))
	switch {
	case len(e.OtherArchs) > 0:
		msg += fmt.Sprintf("; it exists for %s only: pick a package built for %s", strings.Join(e.OtherArchs, ", "), e.Arch)
	case len(e.Similar) > 0:
		msg += "; did you mean " + strings.Join(e.Similar, ", ") + "?"
	case e.Version != "":
		msg += "; the archive no longer serves that version: run tbcompose build --update"
	default:
		msg += "; check the name, and that archive lists the suites and components that carry it"
	}
	return msg
}

// compareVersions orders Debian versions (epoch, upstream, revision, with
// ~ sorting first); unparsable versions sort as plain strings, last.
func compareVersions(a, b string) int {
	va, errA := version.Parse(a)
	vb, errB := version.Parse(b)
	switch {
	case errA == nil && errB == nil:
		// version.Compare returns a difference, not just its sign.
		switch c := version.Compare(va, vb); {
		case c < 0:
			return -1
		case c > 0:
			return 1
		}
		return 0
	case errA == nil:
		return 1
	case errB == nil:
		return -1
	}
	return strings.Compare(a, b)
}

// satisfies says whether version v meets the relation (">=", "=", ...).
func satisfies(v, rel, want string) bool {
	if rel == "" {
		return true
	}
	c := compareVersions(v, want)
	switch rel {
	case "<<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case ">>":
		return c > 0
	}
	return false
}

// pick is the newest package named name for arch (or Architecture: all)
// meeting rel/want across idxs; ties go to the first configured source.
func pick(idxs []*index, name, arch, rel, want string) *Package {
	var best *Package
	for _, idx := range idxs {
		for _, p := range idx.packages[name] {
			if p.Architecture != arch && p.Architecture != "all" {
				continue
			}
			if !satisfies(p.Version, rel, want) {
				continue
			}
			if best == nil || compareVersions(p.Version, best.Version) > 0 {
				best = p
			}
		}
	}
	return best
}

// Find returns package name for arch: the newest across every configured
// suite, or exactly version when it is not empty.
func (c *Client) Find(ctx context.Context, name, arch, ver string) (*Package, error) {
	idxs, err := c.indexesFor(ctx, arch)
	if err != nil {
		return nil, err
	}
	rel := ""
	if ver != "" {
		rel = "="
	}
	if p := pick(idxs, name, arch, rel, ver); p != nil {
		return p, nil
	}
	if ver == "" {
		// A virtual package: the newest of its providers.
		var best *Package
		for _, idx := range idxs {
			for _, p := range idx.provides[name] {
				if (p.Architecture == arch || p.Architecture == "all") && (best == nil || compareVersions(p.Version, best.Version) > 0) {
					best = p
				}
			}
		}
		if best != nil {
			return best, nil
		}
	}
	return nil, c.notFound(ctx, idxs, name, arch, ver)
}

// Resolve finds name for arch and follows its Depends and Pre-Depends into
// every package follow accepts, returning name's package first and the
// rest in the order they were reached.
func (c *Client) Resolve(ctx context.Context, name, arch string, follow func(dep string) bool) ([]*Package, error) {
	root, err := c.Find(ctx, name, arch, "")
	if err != nil {
		return nil, err
	}
	idxs, err := c.indexesFor(ctx, arch)
	if err != nil {
		return nil, err
	}
	out := []*Package{root}
	seen := map[string]bool{root.Name: true}
	for i := 0; i < len(out); i++ {
		p := out[i]
		var groups [][]deb.Dependency
		for _, field := range []string{p.PreDepends, p.Depends} {
			g, err := deb.ParseDepends(field)
			if err != nil {
				return nil, fmt.Errorf("%s %s (%s): bad dependency field: %w", p.Name, p.Version, p.From, err)
			}
			groups = append(groups, g...)
		}
		for _, alts := range groups {
			for _, d := range alts {
				if !follow(d.Name) {
					continue
				}
				if seen[d.Name] {
					break
				}
				dp := pick(idxs, d.Name, arch, d.Relation, d.Version)
				if dp == nil {
					continue // try the next alternative
				}
				seen[d.Name] = true
				out = append(out, dp)
				break
			}
		}
	}
	return out, nil
}

// notFound builds the error for a missing package, with names that are
// close and the architectures that do carry it.
func (c *Client) notFound(ctx context.Context, idxs []*index, name, arch, ver string) error {
	e := &NotFoundError{Name: name, Version: ver, Arch: arch, Sources: c.Sources}
	if ver != "" {
		return e
	}
	e.Similar = similarNames(idxs, name, 5)
	// Perhaps it is built for other architectures only. Those indexes are
	// fetched only here, on the way to an error, and only those of
	// architectures the name mentions ("linux-image-arm64") unless no
	// close name exists at all.
	archs := map[string]bool{}
	for _, src := range c.Sources {
		for _, suite := range src.Suites {
			rel, err := c.Release(ctx, src, suite)
			if err != nil {
				continue
			}
			for _, a := range rel.Architectures {
				if a == arch || a == "all" || archs[a] || (len(e.Similar) > 0 && !strings.Contains(name, a)) {
					continue
				}
				for _, comp := range src.Components {
					idx, _, err := c.index(ctx, src, suite, comp, a)
					if err == nil && idx != nil && len(idx.packages[name]) > 0 {
						archs[a] = true
						break
					}
				}
			}
		}
	}
	for a := range archs {
		e.OtherArchs = append(e.OtherArchs, a)
	}
	sort.Strings(e.OtherArchs)
	return e
}

// similarNames lists up to n package names within a small edit distance
// of name, closest first.
func similarNames(idxs []*index, name string, n int) []string {
	type cand struct {
		name string
		d    int
	}
	limit := 2
	if len(name) > 12 {
		limit = 3
	}
	seen := map[string]bool{}
	var cands []cand
	for _, idx := range idxs {
		for other := range idx.packages {
			if seen[other] || other == name {
				continue
			}
			seen[other] = true
			if d := len(name) - len(other); d > limit || -d > limit {
				continue // cheaply too far apart
			}
			if d := editdist.Levenshtein(name, other); d <= limit {
				cands = append(cands, cand{other, d})
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].d != cands[j].d {
			return cands[i].d < cands[j].d
		}
		return cands[i].name < cands[j].name
	})
	var out []string
	for i := 0; i < len(cands) && i < n; i++ {
		out = append(out, cands[i].name)
	}
	return out
}

// IsNotFound says whether err is a NotFoundError.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}
