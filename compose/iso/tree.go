package iso

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxFileSize is the largest file a single ISO9660 extent can hold. The
// writer does not write multi-extent files, so larger files are refused up
// front instead of having their 32-bit size field wrap.
const maxFileSize = 1<<32 - 1

// nodeKind says what a directory record describes.
type nodeKind int

const (
	kindDir     nodeKind = iota
	kindFile             // data streamed from src
	kindSymlink          // Rock Ridge SL, no data
	kindAlias            // data is a range of another file's extent (Alias)
)

// node is one entry of the planned file tree. Only names, sizes and host
// paths are kept: file contents are read once, while the image is written.
type node struct {
	name     string // Rock Ridge name; "" for the root
	kind     nodeKind
	parent   *node
	children map[string]*node // by Rock Ridge name; dirs only
	sorted   []*node          // children in ISO9660 record order (after layout)

	src    string // kindFile: host path
	size   int64  // kindFile, kindAlias: data length
	exec   bool   // kindFile: any execute bit set on the host
	target string // kindSymlink: link target as stored
	alias  *Alias // kindAlias

	// Filled in by layout.
	isoName  string // ISO9660 file identifier (with ";1" for files)
	lba      uint32 // data extent (dirs: directory extent)
	dirSize  uint32 // dirs: extent length, a multiple of sectorSize
	number   uint16 // dirs: 1-based path table number
	ceOff    int    // offset of this record's continuation area in the CE region, -1 if none
	ceLen    int
	dotCEOff int // root only: the "." record's continuation area (ER)
	dotCELen int
	bootInfo bool // the BIOS boot file, patched with a boot info table
}

// isoPath returns the node's absolute ISO path.
func (n *node) isoPath() string {
	if n.parent == nil {
		return "/"
	}
	return path.Join(n.parent.isoPath(), n.name)
}

func newDir(name string, parent *node) *node {
	return &node{name: name, kind: kindDir, parent: parent, children: map[string]*node{}, ceOff: -1}
}

// tree is the planned file tree.
type tree struct {
	root *node
}

// lookup returns the node at rel ("." for the root), or nil.
func (t *tree) lookup(rel string) *node {
	n := t.root
	if rel == "." {
		return n
	}
	for _, c := range strings.Split(rel, "/") {
		if n.kind != kindDir {
			return nil
		}
		if n = n.children[c]; n == nil {
			return nil
		}
	}
	return n
}

// mkdirAll returns the directory at rel, creating missing parents; what
// names a non-directory on the way is an error.
func (t *tree) mkdirAll(rel, what string) (*node, error) {
	n := t.root
	if rel == "." {
		return n, nil
	}
	for _, c := range strings.Split(rel, "/") {
		next := n.children[c]
		if next == nil {
			next = newDir(c, n)
			n.children[c] = next
		} else if next.kind != kindDir {
			return nil, fmt.Errorf("%s: destination %s exists and is not a directory", what, next.isoPath())
		}
		n = next
	}
	return n, nil
}

// add inserts a non-directory node at rel; a second entry for the same
// path is an error rather than a silent overwrite.
func (t *tree) add(rel string, n *node, what string) error {
	parent, err := t.mkdirAll(path.Dir(rel), what)
	if err != nil {
		return err
	}
	n.name, n.parent, n.ceOff = path.Base(rel), parent, -1
	if old := parent.children[n.name]; old != nil {
		return fmt.Errorf("%s: destination %s already provided by another entry", what, n.isoPath())
	}
	parent.children[n.name] = n
	return nil
}

// planTree stats the payload (without reading file contents) and returns
// the tree it makes, with the aliases added.
func planTree(ctx context.Context, entries []Entry, aliases []Alias) (*tree, error) {
	t := &tree{root: newDir("", nil)}
	t.root.dotCEOff = -1
	for _, e := range entries {
		rel, err := isoRelPath(e.Dst)
		if err != nil {
			return nil, err
		}
		// The entry's own Src is the caller's explicit choice, so a symlink
		// there is followed; links inside a tree never are.
		fi, err := os.Stat(e.Src)
		if err != nil {
			return nil, fmt.Errorf("payload %s: %w", e.Src, err)
		}
		switch {
		case fi.IsDir():
			if _, err := t.mkdirAll(rel, "payload "+e.Src); err != nil {
				return nil, err
			}
			if err := t.addTree(ctx, e.Src, rel); err != nil {
				return nil, err
			}
		case fi.Mode().IsRegular():
			if rel == "." {
				return nil, fmt.Errorf("payload %s: a file cannot be the ISO root", e.Src)
			}
			if err := t.addFile(e.Src, rel, fi, e.Exec); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("payload %s: special file (%s) not supported", e.Src, fi.Mode().Type())
		}
	}
	for _, a := range aliases {
		rel, err := isoRelPath(a.Dst)
		if err != nil {
			return nil, fmt.Errorf("alias: %w", err)
		}
		if rel == "." {
			return nil, fmt.Errorf("alias %s: cannot be the ISO root", a.Dst)
		}
		a := a
		if err := t.add(rel, &node{kind: kindAlias, size: a.Size, alias: &a}, "alias "+a.Dst); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *tree) addFile(src, rel string, fi fs.FileInfo, exec bool) error {
	if fi.Size() > maxFileSize {
		return fmt.Errorf("payload %s: %d bytes exceeds the ISO9660 single-extent limit of %d", src, fi.Size(), int64(maxFileSize))
	}
	return t.add(rel, &node{kind: kindFile, src: src, size: fi.Size(), exec: exec || fi.Mode()&0o111 != 0}, "payload "+src)
}

// addTree adds the tree at src below the directory rel without following
// symlinks, refusing special files and escaping links.
func (t *tree) addTree(ctx context.Context, src, rel string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		sub, err := filepath.Rel(src, p)
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if sub == "." {
			return nil
		}
		dst := path.Join(rel, filepath.ToSlash(sub))
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			_, err := t.mkdirAll(dst, "payload "+p)
			return err
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("readlink %s: %w", p, err)
			}
			if err := checkLinkInside(src, sub, link); err != nil {
				return fmt.Errorf("symlink %s -> %s: %w", p, link, err)
			}
			return t.add(dst, &node{kind: kindSymlink, target: link}, "payload "+p)
		case mode.IsRegular():
			return t.addFile(p, dst, info, false)
		default:
			return fmt.Errorf("payload %s: special file (%s) not supported", p, mode.Type())
		}
	})
}

// isoRelPath validates an absolute ISO destination path and returns it
// relative to the root ("." for the root itself).
func isoRelPath(dst string) (string, error) {
	if !strings.HasPrefix(dst, "/") {
		return "", fmt.Errorf("destination %q: must be an absolute ISO path", dst)
	}
	if strings.ContainsRune(dst, 0) || strings.Contains(dst, "\\") {
		return "", fmt.Errorf("destination %q: NUL or backslash not allowed", dst)
	}
	clean := path.Clean(dst)
	for _, c := range strings.Split(clean, "/") {
		if c == ".." {
			return "", fmt.Errorf("destination %q: '..' not allowed", dst)
		}
		if len(c) > maxNameLen {
			return "", fmt.Errorf("destination %q: component of %d bytes exceeds %d", dst, len(c), maxNameLen)
		}
	}
	if clean == "/" {
		return ".", nil
	}
	return clean[1:], nil
}

// maxLinkHops bounds symlink resolution like the kernel's ELOOP limit.
const maxLinkHops = 40

// checkLinkInside resolves link (the target of the symlink at rel inside
// root) one component at a time, following intermediate symlinks only
// within root, and fails if resolution would ever leave root. A purely
// lexical check is not enough: with d -> ".", the link "d/.." is lexically
// "." but really names root's parent.
func checkLinkInside(root, rel, link string) error {
	if filepath.IsAbs(link) {
		return errors.New("absolute target resolves outside the source tree")
	}
	cur := splitComponents(filepath.Dir(rel))
	queue := splitComponents(link)
	hops := 0
	exists := true // once a component is missing, the rest is checked lexically
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case ".":
			continue
		case "..":
			if len(cur) == 0 {
				return errors.New("target resolves outside the source tree")
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, c)
		if !exists {
			continue
		}
		fi, err := os.Lstat(filepath.Join(append([]string{root}, cur...)...))
		if err != nil {
			exists = false
			continue
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if hops++; hops > maxLinkHops {
			return errors.New("too many levels of symbolic links")
		}
		next, err := os.Readlink(filepath.Join(append([]string{root}, cur...)...))
		if err != nil {
			return fmt.Errorf("readlink: %w", err)
		}
		if filepath.IsAbs(next) {
			return fmt.Errorf("via %s: absolute target resolves outside the source tree", filepath.Join(cur...))
		}
		cur = cur[:len(cur)-1]
		queue = append(splitComponents(next), queue...)
	}
	return nil
}

func splitComponents(p string) []string {
	var out []string
	for _, c := range strings.Split(filepath.ToSlash(p), "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}
