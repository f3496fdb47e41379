package initramfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"

	"github.com/tinyboot/tinyboot/internal/decompress"
)

// File is one entry read back from an initramfs.
type File struct {
	// Path is absolute, as the kernel unpacks it ("/init").
	Path     string
	Mode     fs.FileMode
	UID, GID int
	// Size is the data size; 0 for directories and symlinks.
	Size int64
	// Data is a regular file's content.
	Data []byte
	// Link is a symlink's target.
	Link string
	// Archive is the index of the cpio archive the entry came from.
	Archive int
}

// Unpack returns what the kernel sees of an initramfs: every segment
// decompressed, the cpio archives back to back. An uncompressed archive's
// end is found by walking its headers; a compressed segment runs to the end
// of the data (its decoder reads the remaining segments of its format as
// one stream, as tbcompose writes them all with one compression).
func Unpack(data []byte) ([]byte, error) {
	var raw bytes.Buffer
	for off := 0; ; {
		for off < len(data) && data[off] == 0 {
			off++ // zero padding between segments
		}
		if off == len(data) {
			return raw.Bytes(), nil
		}
		rest := data[off:]
		if f, ok := decompress.Sniff(rest); ok {
			r, err := decompress.NewReader(f, bytes.NewReader(rest))
			if err != nil {
				return nil, fmt.Errorf("initramfs: %s segment at byte %d: %w", f, off, err)
			}
			_, err = io.Copy(&raw, r)
			r.Close()
			if err != nil {
				return nil, fmt.Errorf("initramfs: %s segment at byte %d: %w", f, off, err)
			}
			return raw.Bytes(), nil
		}
		n, err := archiveLen(rest)
		if err != nil {
			return nil, fmt.Errorf("initramfs: segment at byte %d: %w", off, err)
		}
		raw.Write(rest[:n])
		off += n
	}
}

// Split cuts concatenated newc archives (with the zero padding the kernel
// allows between them) into one slice per archive, each ending with its
// trailer and padding.
func Split(raw []byte) ([][]byte, error) {
	var out [][]byte
	for off := 0; ; {
		for off < len(raw) && raw[off] == 0 {
			off++
		}
		if off == len(raw) {
			return out, nil
		}
		n, err := archiveLen(raw[off:])
		if err != nil {
			return nil, fmt.Errorf("cpio archive at byte %d: %w", off, err)
		}
		out = append(out, raw[off:off+n])
		off += n
	}
}

// Read reads every entry of an initramfs, in archive order; a later
// archive's entry for the same path comes after (and, in the kernel,
// replaces) an earlier one.
func Read(data []byte) ([]File, error) {
	raw, err := Unpack(data)
	if err != nil {
		return nil, err
	}
	archives, err := Split(raw)
	if err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	var files []File
	for i, a := range archives {
		err := walkArchive(a, func(h *newcHeader, name string, body []byte) {
			f := File{Path: path.Clean("/" + name), Mode: h.fileMode(), UID: int(h.uid), GID: int(h.gid), Archive: i}
			switch {
			case f.Mode&fs.ModeSymlink != 0:
				f.Link = string(body)
			case f.Mode.IsRegular():
				f.Data, f.Size = body, int64(len(body))
			}
			files = append(files, f)
		})
		if err != nil {
			return nil, fmt.Errorf("initramfs: cpio archive %d: %w", i, err)
		}
	}
	return files, nil
}

// newc format: a 110-byte ASCII header of a 6-byte magic and thirteen
// 8-digit hex fields, the NUL-terminated name padded to 4 bytes (counting
// the header), then the data padded to 4 bytes.
const (
	newcHeaderLen = 110
	newcTrailer   = "TRAILER!!!"
)

type newcHeader struct {
	mode, uid, gid, fileSize, nameSize uint64
}

func parseNewcHeader(b []byte) (*newcHeader, error) {
	if len(b) < newcHeaderLen {
		return nil, errors.New("truncated header")
	}
	if m := string(b[:6]); m != "070701" && m != "070702" {
		return nil, fmt.Errorf("bad magic %q (want a newc archive, 070701)", m)
	}
	var fields [13]uint64
	for i := range fields {
		v, err := strconv.ParseUint(string(b[6+8*i:6+8*i+8]), 16, 32)
		if err != nil {
			return nil, fmt.Errorf("header field %d: %w", i, err)
		}
		fields[i] = v
	}
	h := newcHeader{mode: fields[1], uid: fields[2], gid: fields[3], fileSize: fields[6], nameSize: fields[11]}
	if h.nameSize == 0 {
		return nil, errors.New("empty name")
	}
	return &h, nil
}

// fileMode converts the header's Unix mode to an fs.FileMode.
func (h *newcHeader) fileMode() fs.FileMode {
	m := fs.FileMode(h.mode & 0o777)
	if h.mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if h.mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if h.mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch h.mode & 0o170000 {
	case 0o040000:
		m |= fs.ModeDir
	case 0o120000:
		m |= fs.ModeSymlink
	case 0o020000:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case 0o060000:
		m |= fs.ModeDevice
	case 0o010000:
		m |= fs.ModeNamedPipe
	case 0o140000:
		m |= fs.ModeSocket
	}
	return m
}

func pad4(n uint64) uint64 { return (n + 3) &^ 3 }

// walkArchive calls fn for every entry of the archive at the start of b,
// up to its trailer, and returns the archive's length.
func walkArchive(b []byte, fn func(h *newcHeader, name string, body []byte)) error {
	_, err := walk(b, fn)
	return err
}

// archiveLen is the length of the newc archive at the start of b,
// trailer and padding included, found by walking its headers.
func archiveLen(b []byte) (int, error) {
	return walk(b, nil)
}

func walk(b []byte, fn func(h *newcHeader, name string, body []byte)) (int, error) {
	var off uint64
	for {
		h, err := parseNewcHeader(b[off:])
		if err != nil {
			return 0, fmt.Errorf("entry at byte %d: %w", off, err)
		}
		nameEnd := off + newcHeaderLen + h.nameSize
		dataOff := off + pad4(newcHeaderLen+h.nameSize)
		dataEnd := dataOff + h.fileSize
		if nameEnd > uint64(len(b)) || dataEnd > uint64(len(b)) {
			return 0, fmt.Errorf("entry at byte %d: runs past the end of the data", off)
		}
		name := string(bytes.TrimRight(b[off+newcHeaderLen:nameEnd], "\x00"))
		next := min(dataOff+pad4(h.fileSize), uint64(len(b)))
		if name == newcTrailer {
			return int(next), nil
		}
		if fn != nil {
			fn(h, name, b[dataOff:dataEnd])
		}
		off = next
	}
}
