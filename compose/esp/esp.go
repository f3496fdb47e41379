// Package esp writes the EFI System Partition image: the smallest FAT12 or
// FAT16 filesystem holding a few files, typically just
// /EFI/BOOT/BOOTX64.EFI.
//
// The FAT writer is our own rather than go-diskfs: go-diskfs v1.9.4 takes
// timestamps from the process environment instead of an argument, can only
// zero or time-stamp the volume serial, silently writes past the requested
// size when nearly full, needs a seekable file, and picks a fixed cluster
// size, so it can give neither a content-derived, byte-deterministic image
// nor the smallest one. Writing one contiguous file into a fresh FAT12/16
// needs only a boot sector, two FATs and a few directories.
package esp

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// File is a file to put in the image.
type File struct {
	// Path is slash-separated, without a leading slash, each component a
	// valid 8.3 name (stored upper-case), e.g. "EFI/BOOT/BOOTX64.EFI".
	// Directories are created as needed.
	Path string
	// Data holds the contents. Build reads it twice (once to derive the
	// volume serial, once to write), hence an io.ReaderAt such as an
	// *os.File or *bytes.Reader.
	Data io.ReaderAt
	Size int64
}

// Size returns the size in bytes of the image Build writes for files; only
// their paths and sizes matter. It is a multiple of 2048.
func Size(files []File) (int64, error) {
	root, err := buildTree(files)
	if err != nil {
		return 0, err
	}
	l, err := planLayout(root)
	if err != nil {
		return 0, err
	}
	return int64(l.totalSectors) * sectorSize, nil
}

// Build writes to w a FAT image holding files, every entry stamped with
// mtime, and returns its size (a multiple of 2048 bytes, see Size). The
// output depends only on the files' paths and contents and on mtime; the
// volume serial is derived from them.
func Build(w io.Writer, files []File, mtime time.Time) (int64, error) {
	root, err := buildTree(files)
	if err != nil {
		return 0, err
	}
	for _, f := range files {
		if f.Data == nil && f.Size > 0 {
			return 0, fmt.Errorf("file %s: no data", f.Path)
		}
	}
	l, err := planLayout(root)
	if err != nil {
		return 0, err
	}

	// Allocate clusters contiguously in walk order; the data area is then
	// written in that same order.
	next := uint32(2)
	root.walk(func(n, parent *node) {
		n.clusters = clustersFor(n, parent == nil, l.clusterSize())
		if n.clusters > 0 {
			n.cluster = next
			next += n.clusters
		}
	})
	eoc := uint32(0xffff)
	if l.fatBits == 12 {
		eoc = 0xfff
	}
	fat := make([]uint32, l.clusters+2)
	fat[0] = eoc&^0xff | mediaFixed
	fat[1] = eoc
	root.walk(func(n, _ *node) {
		for i := range n.clusters {
			c := n.cluster + i
			fat[c] = c + 1
			if i == n.clusters-1 {
				fat[c] = eoc
			}
		}
	})

	serial, err := volumeID(root, mtime)
	if err != nil {
		return 0, err
	}

	cw := &countWriter{w: w}
	var hdr bytes.Buffer
	if err := binary.Write(&hdr, binary.LittleEndian, newBootSector(l, serial)); err != nil {
		return 0, fmt.Errorf("encode boot sector: %w", err)
	}
	hdr.Write(make([]byte, int(l.reservedSectors)*sectorSize-hdr.Len()))
	fatBytes := encodeFAT(l, fat)
	for range numFATs {
		hdr.Write(fatBytes)
	}
	rootDir, err := encodeDir(root, nil, mtime)
	if err != nil {
		return 0, err
	}
	hdr.Write(rootDir)
	hdr.Write(make([]byte, int(l.rootSectors())*sectorSize-len(rootDir)))
	if _, err := cw.Write(hdr.Bytes()); err != nil {
		return cw.n, fmt.Errorf("write FAT headers: %w", err)
	}

	var werr error
	root.walk(func(n, parent *node) {
		if werr != nil || n.clusters == 0 {
			return
		}
		start := cw.n
		if n.dir {
			var d []byte
			if d, werr = encodeDir(n, parent, mtime); werr == nil {
				_, werr = cw.Write(d)
			}
		} else {
			var k int64
			k, werr = io.Copy(cw, io.NewSectionReader(n.file.Data, 0, n.file.Size))
			if werr == nil && k != n.file.Size {
				werr = fmt.Errorf("file %s: %w", n.file.Path, io.ErrUnexpectedEOF)
			}
		}
		if werr == nil {
			werr = writeZeros(cw, start+int64(n.clusters)*int64(l.clusterSize())-cw.n)
		}
	})
	if werr != nil {
		return cw.n, fmt.Errorf("write data: %w", werr)
	}
	if err := writeZeros(cw, int64(l.totalSectors)*sectorSize-cw.n); err != nil {
		return cw.n, fmt.Errorf("write free space: %w", err)
	}
	return cw.n, nil
}

// encodeDir returns the directory entries of n; parent is nil for the root,
// which (unlike subdirectories) has no "." and ".." entries.
func encodeDir(n, parent *node, mtime time.Time) ([]byte, error) {
	date, tm, tenths := dosDateTime(mtime)
	entry := func(name [11]byte, attr uint8, cluster, size uint32) dirEntry {
		return dirEntry{
			Name: name, Attr: attr,
			CreateTenths: tenths, CreateTime: tm, CreateDate: date,
			AccessDate: date,
			WriteTime:  tm, WriteDate: date,
			ClusterLow: uint16(cluster), FileSize: size,
		}
	}
	var ents []dirEntry
	if parent != nil {
		dot := [11]byte{'.', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '}
		dotdot := dot
		dotdot[1] = '.'
		ents = append(ents, entry(dot, attrDirectory, n.cluster, 0),
			entry(dotdot, attrDirectory, parent.cluster, 0)) // root's cluster is 0, as ".." requires
	}
	for _, c := range n.children {
		if c.dir {
			ents = append(ents, entry(c.name, attrDirectory, c.cluster, 0))
		} else {
			ents = append(ents, entry(c.name, attrArchive, c.cluster, uint32(c.file.Size)))
		}
	}
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, ents); err != nil {
		return nil, fmt.Errorf("encode directory: %w", err)
	}
	return b.Bytes(), nil
}

// volumeID derives the volume serial from everything the image holds, so
// equal inputs give equal images and different ones (almost always)
// different serials, which is what firmware and OSes use the serial for.
func volumeID(root *node, mtime time.Time) (uint32, error) {
	h := sha256.New()
	_ = binary.Write(h, binary.LittleEndian, mtime.Unix()) // hash writes cannot fail
	var err error
	root.walk(func(n, _ *node) {
		if err != nil {
			return
		}
		h.Write(n.name[:])
		_ = binary.Write(h, binary.LittleEndian, uint32(len(n.children)))
		if n.file != nil {
			_ = binary.Write(h, binary.LittleEndian, n.file.Size)
			var k int64
			k, err = io.Copy(h, io.NewSectionReader(n.file.Data, 0, n.file.Size))
			if err == nil && k != n.file.Size {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				err = fmt.Errorf("read file %s: %w", n.file.Path, err)
			}
		}
	})
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(h.Sum(nil)), nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var zeros [32 << 10]byte

// writeZeros writes n zero bytes (none if n <= 0).
func writeZeros(w io.Writer, n int64) error {
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := w.Write(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}
