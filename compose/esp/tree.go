package esp

import (
	"fmt"
	"slices"
	"strings"
)

// node is a file or directory in the image.
type node struct {
	name     [11]byte // 8.3 short name
	dir      bool
	children []*node // sorted by name
	file     *File

	cluster  uint32 // first cluster, 0 for an empty file
	clusters uint32 // clusters allocated
}

// buildTree arranges files into a directory tree under a root node.
func buildTree(files []File) (*node, error) {
	root := &node{dir: true}
	for i := range files {
		f := &files[i]
		if f.Size < 0 || f.Size > 0xffffffff {
			return nil, fmt.Errorf("file %s: size %d does not fit in FAT", f.Path, f.Size)
		}
		parts := strings.Split(f.Path, "/")
		dir := root
		for j, p := range parts {
			name, err := shortName(p)
			if err != nil {
				return nil, fmt.Errorf("file %s: %w", f.Path, err)
			}
			last := j == len(parts)-1
			child := dir.child(name)
			switch {
			case child == nil:
				child = &node{name: name, dir: !last}
				if last {
					child.file = f
				}
				dir.children = append(dir.children, child)
			case last:
				return nil, fmt.Errorf("file %s: given twice or also a directory", f.Path)
			case !child.dir:
				return nil, fmt.Errorf("file %s: %s is a file, not a directory", f.Path, p)
			}
			dir = child
		}
	}
	root.sort()
	return root, nil
}

func (n *node) child(name [11]byte) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (n *node) sort() {
	slices.SortFunc(n.children, func(a, b *node) int { return strings.Compare(string(a.name[:]), string(b.name[:])) })
	for _, c := range n.children {
		c.sort()
	}
}

// walk calls fn for n and its descendants, parents before children, in
// name order: the order clusters are allocated and data is written.
func (n *node) walk(fn func(n, parent *node)) {
	var rec func(n, parent *node)
	rec = func(n, parent *node) {
		fn(n, parent)
		for _, c := range n.children {
			rec(c, n)
		}
	}
	rec(n, nil)
}

// shortName converts a path component to an 8.3 directory entry name. Only
// names that are valid short names (after upper-casing) are accepted: that
// is all an ESP needs, and it spares us long-name entries, whose checksums
// and case rules are a source of firmware quirks.
func shortName(s string) ([11]byte, error) {
	var n [11]byte
	for i := range n {
		n[i] = ' '
	}
	if s == "" || s == "." || s == ".." {
		return n, fmt.Errorf("invalid path component %q", s)
	}
	s = strings.ToUpper(s)
	base, ext, hasDot := strings.Cut(s, ".")
	if base == "" || len(base) > 8 || len(ext) > 3 || (hasDot && ext == "") || strings.Contains(ext, ".") {
		return n, fmt.Errorf("%q is not an 8.3 name", s)
	}
	for _, c := range []byte(base + ext) {
		if !validShortChar(c) {
			return n, fmt.Errorf("%q is not an 8.3 name: character %q not allowed", s, c)
		}
	}
	copy(n[:8], base)
	copy(n[8:], ext)
	return n, nil
}

func validShortChar(c byte) bool {
	switch {
	case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case strings.IndexByte("!#$%&'()-@^_`{}~", c) >= 0:
		return true
	}
	return false
}
