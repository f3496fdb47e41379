// Package gce writes and reads Google Compute Engine image archives: a
// gzip-compressed tar holding exactly one file, disk.raw, the raw disk in
// whole GiB, as Google's image importer requires.
//
// The disk is mostly empty, so disk.raw is stored sparse, in GNU tar's
// old sparse format (type 'S', what `tar --format=oldgnu -S` writes and
// what Google's documentation asks for). The standard library's
// archive/tar reads that format but stopped writing it, and no other
// library writes it, so the writer is ours: one header (with extension
// blocks when the disk has more than four data regions), then the data
// regions back to back. Reading back goes through archive/tar.
package gce

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/klauspost/compress/gzip"
)

// DiskName is the one file in the archive.
const DiskName = "disk.raw"

// GiB is the granularity of a GCE disk.
const GiB = 1 << 30

// blockSize is the tar block; the unit of sparse regions is the same.
const blockSize = 512

// region is one run of data in a sparse file.
type region struct{ off, size int64 }

// Write writes the archive of the raw disk image disk, whose size must be
// a whole number of GiB, to w, stamped with mtime. Runs of zeros become
// holes, so the archive costs only the disk's data.
func Write(w io.Writer, disk *os.File, mtime time.Time) error {
	fi, err := disk.Stat()
	if err != nil {
		return fmt.Errorf("gce: %w", err)
	}
	size := fi.Size()
	if size <= 0 || size%GiB != 0 {
		return fmt.Errorf("gce: disk of %d bytes: GCE disks are a whole number of GiB", size)
	}
	regions, err := dataRegions(disk, size)
	if err != nil {
		return fmt.Errorf("gce: scan %s: %w", disk.Name(), err)
	}
	zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	// A fixed gzip header (no name, no time) keeps the archive's bytes a
	// function of the disk alone.
	zw.Header = gzip.Header{OS: 255}
	if err := writeSparse(zw, disk, size, regions, mtime); err != nil {
		return fmt.Errorf("gce: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gce: %w", err)
	}
	return nil
}

// scanChunk is how much of the disk dataRegions reads at a time, and
// zeroGrain the granularity of holes: a run of zeros shorter than it is
// stored.
const (
	scanChunk = 1 << 20
	zeroGrain = 4096
)

// dataRegions finds the non-zero parts of the disk, in zeroGrain units.
// The disk's last block is always included, as GNU tar does, so that a
// reader that creates the file from the map alone gets its full size.
func dataRegions(r io.ReaderAt, size int64) ([]region, error) {
	var out []region
	add := func(off, n int64) {
		if k := len(out); k > 0 && out[k-1].off+out[k-1].size == off {
			out[k-1].size += n
			return
		}
		out = append(out, region{off, n})
	}
	buf := make([]byte, scanChunk)
	zero := make([]byte, zeroGrain)
	for off := int64(0); off < size; off += scanChunk {
		n := int(min(scanChunk, size-off))
		if _, err := r.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		for i := 0; i < n; i += zeroGrain {
			j := min(i+zeroGrain, n)
			if !bytes.Equal(buf[i:j], zero[:j-i]) {
				add(off+int64(i), int64(j-i))
			}
		}
	}
	if k := len(out); k == 0 || out[k-1].off+out[k-1].size != size {
		add(size-blockSize, blockSize)
	}
	return out, nil
}

// Offsets within a GNU tar header block.
const (
	offName     = 0
	offMode     = 100
	offUID      = 108
	offGID      = 116
	offSize     = 124
	offMtime    = 136
	offChksum   = 148
	offType     = 156
	offMagic    = 257
	offSparse   = 386
	offExtended = 482
	offRealSize = 483

	sparseEntry     = 24 // offset[12] numbytes[12]
	headerSparse    = 4  // entries in the header
	extensionSparse = 21 // entries in an extension block
	offExtFlag      = extensionSparse * sparseEntry

	typeGNUSparse = 'S'
)

// writeSparse writes the tar stream: the sparse header, its extension
// blocks, the regions' data, and the end-of-archive blocks.
func writeSparse(w io.Writer, disk io.ReaderAt, size int64, regions []region, mtime time.Time) error {
	var stored int64
	for _, r := range regions {
		stored += r.size
	}
	hdr := make([]byte, blockSize)
	copy(hdr[offName:], DiskName)
	putNumeric(hdr[offMode:offMode+8], 0o644)
	putNumeric(hdr[offUID:offUID+8], 0)
	putNumeric(hdr[offGID:offGID+8], 0)
	putNumeric(hdr[offSize:offSize+12], stored)
	putNumeric(hdr[offMtime:offMtime+12], mtime.Unix())
	hdr[offType] = typeGNUSparse
	copy(hdr[offMagic:], "ustar  \x00") // GNU magic and version
	putNumeric(hdr[offRealSize:offRealSize+12], size)
	rest := putSparse(hdr[offSparse:], regions, headerSparse)
	if len(rest) > 0 {
		hdr[offExtended] = 1
	}
	// The checksum is computed with its own field as spaces.
	copy(hdr[offChksum:offChksum+8], "        ")
	var sum int64
	for _, b := range hdr {
		sum += int64(b)
	}
	copy(hdr[offChksum:], fmt.Sprintf("%06o\x00 ", sum))
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for len(rest) > 0 {
		ext := make([]byte, blockSize)
		rest = putSparse(ext, rest, extensionSparse)
		if len(rest) > 0 {
			ext[offExtFlag] = 1
		}
		if _, err := w.Write(ext); err != nil {
			return err
		}
	}
	for _, r := range regions {
		if _, err := io.Copy(w, io.NewSectionReader(disk, r.off, r.size)); err != nil {
			return err
		}
	}
	pad := (blockSize - stored%blockSize) % blockSize
	_, err := w.Write(make([]byte, pad+2*blockSize))
	return err
}

// putSparse fills up to n sparse map entries at b and returns the
// regions left over.
func putSparse(b []byte, regions []region, n int) []region {
	for i := 0; i < n && len(regions) > 0; i++ {
		e := b[i*sparseEntry:]
		putNumeric(e[:12], regions[0].off)
		putNumeric(e[12:24], regions[0].size)
		regions = regions[1:]
	}
	return regions
}

// putNumeric writes v as NUL-terminated octal, or in GNU's base-256 form
// when it does not fit (disks of 8 GiB and more).
func putNumeric(b []byte, v int64) {
	s := strconv.FormatInt(v, 8)
	if len(s) < len(b) {
		pad := len(b) - 1 - len(s)
		for i := range pad {
			b[i] = '0'
		}
		copy(b[pad:], s)
		b[len(b)-1] = 0
		return
	}
	for i := len(b) - 1; i > 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	b[0] = 0x80
}

// Disk is the disk.raw entry of an archive read back.
type Disk struct {
	// Header is the tar header as archive/tar reads it.
	Header *tar.Header
	// Size is the disk's size; Stored the bytes of data the archive holds.
	Size, Stored int64
}

// Extract reads a GCE image archive from r and writes its disk.raw to
// dst, leaving holes where the archive has them. It fails unless the
// archive holds exactly one regular file named disk.raw.
func Extract(r io.Reader, dst *os.File) (*Disk, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("gce: not a gzip archive: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("gce: read archive: %w", err)
	}
	if h.Name != DiskName || (h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeGNUSparse) {
		return nil, fmt.Errorf("gce: first entry is %q (type %q), want the file %s", h.Name, h.Typeflag, DiskName)
	}
	d := &Disk{Header: h, Size: h.Size}
	if err := dst.Truncate(h.Size); err != nil {
		return nil, fmt.Errorf("gce: %w", err)
	}
	if d.Stored, err = copySparse(dst, tr); err != nil {
		return nil, fmt.Errorf("gce: extract %s: %w", DiskName, err)
	}
	if _, err := tr.Next(); err != io.EOF {
		return nil, fmt.Errorf("gce: the archive holds more than %s (%v)", DiskName, err)
	}
	return d, nil
}

// copySparse copies r to f, seeking over blocks of zeros instead of
// writing them, and returns the bytes written.
func copySparse(f *os.File, r io.Reader) (int64, error) {
	buf := make([]byte, zeroGrain)
	zero := make([]byte, zeroGrain)
	var off, written int64
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			if _, werr := f.WriteAt(buf[:n], off); werr != nil {
				return written, werr
			}
			written += int64(n)
		}
		off += int64(n)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return written, nil
		}
		if err != nil {
			return written, err
		}
	}
}
