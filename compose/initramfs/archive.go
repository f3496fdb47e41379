// Package initramfs builds the Linux initramfs: newc cpio archives,
// each compressed on its own, concatenated.
//
// The kernel unpacks an initramfs made of several compressed cpio archives
// one after another, so an image is assembled from Segments (agent, app,
// modules, spec, ...) that can each be compressed once, cached by content
// and concatenated on later builds.
package initramfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/cavaliergopher/cpio"
)

// Entry is one file, directory or symlink in an archive.
type Entry struct {
	// Path is absolute inside the initramfs ("/bin/app").
	Path string
	// Mode holds the permission bits and fs.ModeDir / fs.ModeSymlink.
	Mode fs.FileMode
	// Data is the content of a regular file or, for a symlink, its target.
	// HostPath, when set instead, names a host file streamed at write time.
	Data     []byte
	HostPath string
	// Size is the file's size; it is derived from Data when zero.
	Size int64
}

// Archive is an in-memory list of entries written as one newc cpio archive.
// Parent directories are added implicitly because the kernel's unpacker
// creates none.
type Archive struct {
	entries map[string]Entry
	// first are entries written before all others, in the order given.
	first []string
}

// New returns an empty archive.
func New() *Archive { return &Archive{entries: map[string]Entry{}} }

// Dir adds a directory with permissions perm.
func (a *Archive) Dir(p string, perm fs.FileMode) error {
	return a.add(Entry{Path: p, Mode: fs.ModeDir | perm.Perm()})
}

// File adds a regular file with the given content.
func (a *Archive) File(p string, perm fs.FileMode, data []byte) error {
	return a.add(Entry{Path: p, Mode: perm.Perm(), Data: data, Size: int64(len(data))})
}

// HostFile adds a regular file whose content is read from hostPath when the
// archive is written, so large files are never held in memory.
func (a *Archive) HostFile(p string, perm fs.FileMode, hostPath string) error {
	fi, err := os.Stat(hostPath)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("initramfs: %s is not a regular file", hostPath)
	}
	return a.add(Entry{Path: p, Mode: perm.Perm(), HostPath: hostPath, Size: fi.Size()})
}

// Symlink adds a symbolic link to target.
func (a *Archive) Symlink(p, target string) error {
	return a.add(Entry{Path: p, Mode: fs.ModeSymlink | 0o777, Data: []byte(target), Size: int64(len(target))})
}

// Entries returns the entries, parents first, in a stable order: those
// WriteFirst names, then the rest by path.
func (a *Archive) Entries() []Entry {
	out := make([]Entry, 0, len(a.entries))
	rank := map[string]int{}
	for i, p := range a.first {
		rank[p] = i - len(a.first) // negative: before every unranked entry
	}
	for _, e := range a.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := rank[out[i].Path], rank[out[j].Path]
		if ri != rj {
			return ri < rj
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// WriteFirst makes the top-level entry p (added already, or later) come
// before every other entry. Order matters to the compressor, whose window
// reaches back only so far: a file that shares content with a large
// one compresses best written before it.
func (a *Archive) WriteFirst(p string) error {
	clean := path.Clean("/" + p)
	if path.Dir(clean) != "/" || clean == "/" {
		return fmt.Errorf("initramfs: WriteFirst %q: only top-level entries, whose parent is always there", p)
	}
	a.first = append(a.first, clean)
	return nil
}

func (a *Archive) add(e Entry) error {
	clean := path.Clean("/" + e.Path)
	if clean == "/" || clean != e.Path && clean != "/"+strings.TrimPrefix(e.Path, "/") {
		return fmt.Errorf("initramfs: bad path %q", e.Path)
	}
	e.Path = clean
	if old, ok := a.entries[clean]; ok {
		if old.Mode.IsDir() && e.Mode.IsDir() {
			return nil
		}
		return fmt.Errorf("initramfs: %s added twice", clean)
	}
	for dir := path.Dir(clean); dir != "/"; dir = path.Dir(dir) {
		if old, ok := a.entries[dir]; ok {
			if !old.Mode.IsDir() {
				return fmt.Errorf("initramfs: %s: parent %s is not a directory", clean, dir)
			}
			continue
		}
		a.entries[dir] = Entry{Path: dir, Mode: fs.ModeDir | 0o755}
	}
	a.entries[clean] = e
	return nil
}

// WriteTo writes the archive as newc cpio with a trailer. Every entry is
// owned by root and stamped with mtime, so the bytes depend on content only.
func (a *Archive) WriteTo(w io.Writer, mtime time.Time) error {
	cw := cpio.NewWriter(w)
	for i, e := range a.Entries() {
		hdr := &cpio.Header{
			// Names are relative ("bin/app"), as the kernel and cpio(1) expect.
			Name:    strings.TrimPrefix(e.Path, "/"),
			Mode:    cpioMode(e.Mode),
			ModTime: mtime,
			Size:    e.Size,
			Links:   1,
			// Unique inodes with one link each keep the kernel from treating
			// entries as hard links of one another.
			Inode: int64(i + 1),
		}
		if e.Mode.IsDir() {
			hdr.Size = 0
			hdr.Links = 2
		}
		if err := cw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("initramfs: %s: %w", e.Path, err)
		}
		if err := writeBody(cw, e); err != nil {
			return err
		}
	}
	if err := cw.Close(); err != nil {
		return fmt.Errorf("initramfs: trailer: %w", err)
	}
	return nil
}

func writeBody(w io.Writer, e Entry) error {
	switch {
	case e.Mode.IsDir():
		return nil
	case e.HostPath != "":
		f, err := os.Open(e.HostPath)
		if err != nil {
			return fmt.Errorf("initramfs: %s: %w", e.Path, err)
		}
		defer f.Close()
		n, err := io.Copy(w, io.LimitReader(f, e.Size))
		if err != nil {
			return fmt.Errorf("initramfs: %s: copy %s: %w", e.Path, e.HostPath, err)
		}
		if n != e.Size {
			return fmt.Errorf("initramfs: %s: %s changed size while being read (%d of %d bytes)", e.Path, e.HostPath, n, e.Size)
		}
		return nil
	default:
		if _, err := w.Write(e.Data); err != nil {
			return fmt.Errorf("initramfs: %s: %w", e.Path, err)
		}
		return nil
	}
}

func cpioMode(m fs.FileMode) cpio.FileMode {
	perm := cpio.FileMode(m.Perm())
	switch {
	case m.IsDir():
		return cpio.TypeDir | perm
	case m&fs.ModeSymlink != 0:
		return cpio.TypeSymlink | perm
	default:
		return cpio.TypeReg | perm
	}
}
