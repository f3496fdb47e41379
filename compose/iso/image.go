package iso

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// Image is a read-only view of an ISO written by Write (or any ISO9660
// image): its file tree via go-diskfs, its El Torito catalog and its GPT.
type Image struct {
	f    *os.File
	size int64
	fs   *iso9660.FileSystem
}

// FileInfo describes one entry of the image's directory tree.
type FileInfo struct {
	Path       string      // absolute ISO path, e.g. "/boot/vmlinuz"
	Mode       fs.FileMode // type and permission bits (Rock Ridge PX)
	Size       int64       // bytes; 0 for directories and symlinks
	LinkTarget string      // Rock Ridge SL target for symlinks
	LBA        uint32      // first 2048-byte sector of the data extent
}

// guard converts a panic inside go-diskfs into an error. go-diskfs v1.9.4
// panics on some malformed directory records (seen with its own relocated
// deep directories), and this reader must survive hostile images.
func guard(op string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: malformed ISO9660 (go-diskfs: %v)", op, r)
	}
}

// Open opens the image at p for reading.
func Open(p string) (im *Image, err error) {
	defer guard("open image "+p, &err)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat image: %w", err)
	}
	fsys, err := iso9660.Read(file.New(f, true), st.Size(), 0, sectorSize)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read ISO9660 %s: %w", p, err)
	}
	return &Image{f: f, size: st.Size(), fs: fsys}, nil
}

// Close releases the image file.
func (im *Image) Close() error { return im.f.Close() }

// Size returns the image file's size in bytes.
func (im *Image) Size() int64 { return im.size }

// ReaderAt gives raw access to the image bytes.
func (im *Image) ReaderAt() io.ReaderAt { return im.f }

// Label returns the volume identifier.
func (im *Image) Label() string { return strings.TrimRight(im.fs.Label(), " \x00") }

// Files lists every entry below the root (the root itself excluded),
// sorted by path.
func (im *Image) Files() (_ []FileInfo, err error) {
	defer guard("list image", &err)
	var out []FileInfo
	if err := im.walk(".", &out, 0); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// maxDepth bounds recursion on hostile images with directory loops.
const maxDepth = 64

func (im *Image) walk(dir string, out *[]FileInfo, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("list %s: directory nesting deeper than %d", dir, maxDepth)
	}
	entries, err := im.fs.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, de := range entries {
		info, err := de.Info()
		if err != nil {
			return fmt.Errorf("list %s: %w", dir, err)
		}
		p := path.Join(dir, de.Name())
		*out = append(*out, toFileInfo(p, info))
		if info.IsDir() {
			if err := im.walk(p, out, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// toFileInfo converts a go-diskfs entry at relative path rel.
func toFileInfo(rel string, info fs.FileInfo) FileInfo {
	fi := FileInfo{Path: "/" + rel, Mode: info.Mode(), Size: info.Size()}
	if st, ok := info.Sys().(*iso9660.StatT); ok {
		fi.LBA, fi.LinkTarget = st.Location, st.LinkTarget
	}
	// go-diskfs records a symlink's target length as its data length.
	if info.IsDir() || fi.Mode&fs.ModeSymlink != 0 {
		fi.Size = 0
	}
	return fi
}

// Open opens the regular file at absolute ISO path p for streaming reads.
func (im *Image) Open(p string) (_ fs.File, err error) {
	defer guard("open "+p, &err)
	rel, err := isoRelPath(p)
	if err != nil {
		return nil, err
	}
	f, err := im.fs.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("open %s in image: %w", p, err)
	}
	return guardedFile{f}, nil
}

// guardedFile keeps go-diskfs panics during reads from escaping.
type guardedFile struct{ fs.File }

func (g guardedFile) Read(b []byte) (n int, err error) {
	defer guard("read", &err)
	return g.File.Read(b)
}

// ReadFile returns the contents of the regular file at absolute ISO path p.
func (im *Image) ReadFile(p string) ([]byte, error) {
	f, err := im.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s in image: %w", p, err)
	}
	return b, nil
}

// Stat returns the entry at absolute ISO path p.
func (im *Image) Stat(p string) (_ FileInfo, err error) {
	defer guard("stat "+p, &err)
	rel, err := isoRelPath(p)
	if err != nil {
		return FileInfo{}, err
	}
	if rel == "." {
		return FileInfo{Path: "/", Mode: fs.ModeDir | 0o555}, nil
	}
	entries, err := im.fs.ReadDir(path.Dir(rel))
	if err != nil {
		return FileInfo{}, fmt.Errorf("stat %s in image: %w", p, err)
	}
	for _, de := range entries {
		if de.Name() != path.Base(rel) {
			continue
		}
		info, err := de.Info()
		if err != nil {
			return FileInfo{}, fmt.Errorf("stat %s in image: %w", p, err)
		}
		return toFileInfo(rel, info), nil
	}
	return FileInfo{}, fmt.Errorf("stat %s in image: %w", p, fs.ErrNotExist)
}

// BootCatalog parses the El Torito boot catalog.
func (im *Image) BootCatalog() (*BootCatalog, error) { return ReadBootCatalog(im.f) }

// GPT parses and verifies the GUID partition table in the hybrid layout.
func (im *Image) GPT() (*GPT, error) { return ReadGPT(im.f, im.size) }

// Partitions returns the GPT partitions.
func (im *Image) Partitions() ([]Partition, error) {
	g, err := im.GPT()
	if err != nil {
		return nil, err
	}
	return g.Partitions, nil
}

// ESP returns the bytes of the El Torito EFI boot image, sized by the GPT
// EFI System partition that covers it (the catalog's 512-byte sector count
// saturates for images over 32 MiB).
func (im *Image) ESP() ([]byte, error) {
	cat, err := im.BootCatalog()
	if err != nil {
		return nil, err
	}
	var lba uint32
	found := false
	for _, e := range cat.Entries {
		if e.Platform == PlatformEFI && e.Bootable {
			lba, found = e.LBA, true
			break
		}
	}
	if !found {
		return nil, errors.New("read ESP: no bootable EFI entry in boot catalog")
	}
	parts, err := im.Partitions()
	if err != nil {
		return nil, fmt.Errorf("read ESP: %w", err)
	}
	for _, p := range parts {
		if p.Type == TypeEFISystem && p.Offset() == int64(lba)*sectorSize {
			if p.Size() > im.size {
				break
			}
			b := make([]byte, p.Size())
			if _, err := im.f.ReadAt(b, p.Offset()); err != nil {
				return nil, fmt.Errorf("read ESP: %w", err)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("read ESP: no EFI System partition at sector %d", lba)
}
