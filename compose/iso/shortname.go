package iso

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// go-diskfs v1.9.4 gives every file an ISO9660 8.3 name and renames
// colliding ones (NAME0.EXT, NAME1.EXT, ...). It resolves the collision
// groups of a directory in Go map order, so when two groups compete for the
// same renamed names (same extension and same truncated prefix), which
// group gets which names, and with it the directory layout, changes from
// run to run. Rock Ridge names are unaffected, but the bytes differ. This
// file mirrors go-diskfs's naming just far enough to detect that case and
// refuse it, so Write is deterministic or fails; the real fix (sorting the
// group keys in walkTree) belongs upstream.

var nonDChar = regexp.MustCompile("[^A-Z0-9_]")

// shortName mirrors go-diskfs's calculateShortnameExtension.
func shortName(name string) (base, ext string) {
	base, ext, _ = strings.Cut(name, ".")
	base = nonDChar.ReplaceAllString(strings.ToUpper(base), "_")
	ext = nonDChar.ReplaceAllString(strings.ToUpper(ext), "_")
	if len(ext) > 3 {
		ext = ext[:3]
	}
	if len(base) > 8 {
		base = base[:8]
	}
	return base, ext
}

// checkShortNames walks the workspace and fails on any directory whose
// 8.3 collision groups would be resolved nondeterministically.
func checkShortNames(ws string) error {
	return filepath.WalkDir(ws, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if !d.IsDir() {
			return nil
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		if err := checkDirShortNames(names); err != nil {
			rel, _ := filepath.Rel(ws, p)
			return fmt.Errorf("directory /%s: %w", filepath.ToSlash(strings.TrimPrefix(rel, ".")), err)
		}
		return nil
	})
}

// checkDirShortNames reports two collision groups in one directory whose
// renamed names could overlap.
func checkDirShortNames(names []string) error {
	type group struct {
		key     string
		members []string
		prefix  string // the part kept before the digits
		ext     string
	}
	byKey := map[string]*group{}
	for _, n := range names {
		base, ext := shortName(n)
		k := base + "." + ext
		if byKey[k] == nil {
			byKey[k] = &group{key: k, ext: ext}
		}
		byKey[k].members = append(byKey[k].members, n)
		byKey[k].prefix = base
	}
	var multi []*group
	for _, g := range byKey {
		if len(g.members) > 1 {
			digits := len(fmt.Sprint(len(g.members) - 1))
			if len(g.prefix) > 8-digits {
				g.prefix = g.prefix[:8-digits]
			}
			multi = append(multi, g)
		}
	}
	sort.Slice(multi, func(i, j int) bool { return multi[i].key < multi[j].key })
	for i, a := range multi {
		for _, b := range multi[i+1:] {
			if a.ext != b.ext {
				continue
			}
			short := min(len(a.prefix), len(b.prefix))
			if a.prefix[:short] == b.prefix[:short] {
				return fmt.Errorf("ISO9660 8.3 names of %q and %q both need renaming to %s<n>.%s, "+
					"which go-diskfs v1.9.4 resolves nondeterministically; rename one of them",
					a.members[0], b.members[0], a.prefix[:short], a.ext)
			}
		}
	}
	return nil
}
