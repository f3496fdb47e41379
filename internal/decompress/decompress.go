// Package decompress is the one place that maps a compression format,
// named by a file suffix or recognised by its magic bytes, to a decoder:
// for .deb members, compressed kernel modules and initramfs segments.
package decompress

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Format is a compression format.
type Format string

// Formats.
const (
	None  Format = "none"
	Gzip  Format = "gzip"
	XZ    Format = "xz"
	Zstd  Format = "zstd"
	Bzip2 Format = "bzip2"
	LZMA  Format = "lzma"
)

// ByExt maps a file suffix (".xz", ".zst", "" for none) to its format.
func ByExt(ext string) (Format, bool) {
	f, ok := map[string]Format{"": None, ".gz": Gzip, ".xz": XZ, ".zst": Zstd, ".bz2": Bzip2, ".lzma": LZMA}[ext]
	return f, ok
}

// magics are the formats recognisable by their first bytes.
var magics = []struct {
	f     Format
	magic []byte
}{
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{XZ, []byte{0xfd, '7', 'z', 'X', 'Z', 0}},
	{Gzip, []byte{0x1f, 0x8b}},
	{Bzip2, []byte("BZh")},
}

// Sniff recognises a compressed stream by its magic bytes; ok is false
// for anything else (which may be uncompressed data).
func Sniff(b []byte) (Format, bool) {
	for _, m := range magics {
		if bytes.HasPrefix(b, m.magic) {
			return m.f, true
		}
	}
	return "", false
}

// NewReader decodes r as f. Decoders read concatenated streams of their
// format as one, as the kernel's initramfs unpacker does; they run on one
// goroutine, since callers consume far slower than they decode and the
// machine is shared.
func NewReader(f Format, r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	switch f {
	case None:
		return io.NopCloser(r), nil
	case Gzip:
		return gzip.NewReader(br)
	case XZ:
		x, err := xz.NewReader(br)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(x), nil
	case Zstd:
		d, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(br)), nil
	case LZMA:
		l, err := lzma.NewReader(br)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(l), nil
	}
	return nil, fmt.Errorf("unsupported compression %q", f)
}
