package debarchive

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// indexFormats are the Packages compressions tried, in order. gzip comes
// first because it decodes several times faster than xz, and a build
// decodes the indexes every time it resolves afresh.
var indexFormats = []string{".gz", ".xz", ""}

// indexSlot is one (source, suite, component) to read for an
// architecture, in configuration order.
type indexSlot struct {
	src            Source
	suite, comp    string
	idx            *index
	err            error
	missingForArch bool
}

// Indexes returns the parsed Packages indexes of every configured suite
// and component for arch, fetching and verifying what the cache lacks.
// Suites are read concurrently; the result is in configuration order.
func (c *Client) indexesFor(ctx context.Context, arch string) ([]*index, error) {
	c.mu.Lock()
	if idx, ok := c.indexes[arch]; ok {
		c.mu.Unlock()
		return idx, nil
	}
	c.mu.Unlock()
	if len(c.Sources) == 0 {
		return nil, errors.New("no archive configured")
	}
	var slots []*indexSlot
	for _, src := range c.Sources {
		for _, suite := range src.Suites {
			for _, comp := range src.Components {
				slots = append(slots, &indexSlot{src: src, suite: suite, comp: comp})
			}
		}
	}
	var wg sync.WaitGroup
	for _, s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.idx, s.missingForArch, s.err = c.index(ctx, s.src, s.suite, s.comp, arch)
		}()
	}
	wg.Wait()
	var out []*index
	for _, s := range slots {
		if s.err != nil {
			return nil, s.err
		}
		if s.idx != nil {
			out = append(out, s.idx)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no configured archive carries architecture %s (%s); add a suite that does", arch, describeSources(c.Sources))
	}
	c.mu.Lock()
	if c.indexes == nil {
		c.indexes = map[string][]*index{}
	}
	c.indexes[arch] = out
	c.mu.Unlock()
	return out, nil
}

// index reads one component's Packages for arch; missing says the suite
// has no such index (an architecture it does not carry).
func (c *Client) index(ctx context.Context, src Source, suite, comp, arch string) (idx *index, missing bool, err error) {
	rel, err := c.Release(ctx, src, suite)
	if err != nil {
		return nil, false, err
	}
	base := comp + "/binary-" + arch + "/Packages"
	for _, ext := range indexFormats {
		fh, ok := rel.Files[base+ext]
		if !ok {
			continue
		}
		from := Origin{URL: src.URL, Suite: suite, Component: comp}
		name := indexName(fh.SHA256, ext)
		p, cached := c.Cache.Lookup(IndexesKind, name)
		if !cached {
			dir := src.URL + "/dists/" + suite + "/" + comp + "/binary-" + arch + "/"
			u := dir + "Packages" + ext
			if rel.AcquireByHash {
				u = dir + "by-hash/SHA256/" + fh.SHA256
			}
			c.log().Info("fetching archive index", "url", u)
			p, err = c.fetchVerified(ctx, IndexesKind, name, u, fh.SHA256, fh.Size)
			if err != nil {
				var he *hashError
				if errors.As(err, &he) {
					return nil, false, fmt.Errorf("archive %s suite %s: index %s differs from the InRelease that lists it: %w; the mirror is mid-sync or damaged: retry later or use another mirror", src.URL, suite, base+ext, err)
				}
				return nil, false, fmt.Errorf("archive %s suite %s: index %s: %w", src.URL, suite, base+ext, err)
			}
		}
		idx, err := readIndex(p, base+ext, from, arch)
		if err != nil {
			return nil, false, fmt.Errorf("archive %s suite %s: index %s: %w", src.URL, suite, base+ext, err)
		}
		return idx, false, nil
	}
	// Security suites list their components as updates/main yet serve
	// main/ too, so the files decide, not the Components field.
	for f := range rel.Files {
		if strings.HasPrefix(f, comp+"/") {
			return nil, true, nil
		}
	}
	return nil, false, fmt.Errorf("archive %s suite %s (from %s) has no component %s (it has %v); fix the components", src.URL, suite, src.Origin, comp, rel.Components)
}

func describeSources(srcs []Source) string {
	var parts []string
	for _, s := range srcs {
		parts = append(parts, fmt.Sprintf("%s %v", s.URL, s.Suites))
	}
	if len(parts) == 0 {
		return "no archive configured"
	}
	return fmt.Sprint(parts)
}
