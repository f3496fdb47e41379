package deb

import (
	"bufio"
	"compress/bzip2"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// decompressor opens a decompressing reader over a member's data.
type decompressor func(sr *io.SectionReader) (io.ReadCloser, error)

// decompressorFor picks the decompressor by the member name's suffix, as
// dpkg does.
func decompressorFor(name string) (decompressor, error) {
	ext := ""
	if i := strings.Index(name, ".tar"); i >= 0 {
		ext = name[i+len(".tar"):]
	}
	switch ext {
	case "":
		return func(sr *io.SectionReader) (io.ReadCloser, error) { return io.NopCloser(sr), nil }, nil
	case ".xz":
		return openXZ, nil
	case ".zst":
		return func(sr *io.SectionReader) (io.ReadCloser, error) {
			// One goroutine is plenty: zstd decodes far faster than
			// callers consume tar entries, and the machine is shared.
			d, err := zstd.NewReader(bufio.NewReaderSize(sr, 1<<16), zstd.WithDecoderConcurrency(1))
			if err != nil {
				return nil, err
			}
			return d.IOReadCloser(), nil
		}, nil
	case ".gz":
		return func(sr *io.SectionReader) (io.ReadCloser, error) {
			return gzip.NewReader(bufio.NewReaderSize(sr, 1<<16))
		}, nil
	case ".bz2":
		return func(sr *io.SectionReader) (io.ReadCloser, error) {
			return io.NopCloser(bzip2.NewReader(bufio.NewReaderSize(sr, 1<<16))), nil
		}, nil
	case ".lzma":
		return func(sr *io.SectionReader) (io.ReadCloser, error) {
			r, err := lzma.NewReader(bufio.NewReaderSize(sr, 1<<16))
			if err != nil {
				return nil, err
			}
			return io.NopCloser(r), nil
		}, nil
	}
	return nil, fmt.Errorf("deb: member %s: unsupported compression %q", name, ext)
}

// openXZ decodes independent xz blocks in parallel when the stream has
// several and there is more than one CPU, and sequentially otherwise.
func openXZ(sr *io.SectionReader) (io.ReadCloser, error) {
	if workers := runtime.GOMAXPROCS(0); workers > 1 {
		rc, err := newParallelXZ(sr, sr.Size(), workers)
		if err == nil {
			return rc, nil
		}
		// Anything parseXZIndex does not like (one block, unknown
		// layout, corruption) is left to the sequential decoder, which
		// gives the authoritative error.
	}
	r, err := xz.NewReader(bufio.NewReaderSize(sr, 1<<16))
	if err != nil {
		return nil, err
	}
	return io.NopCloser(r), nil
}

// open returns the decompressed data of member m, with errors naming m.
func open(m Member, sr *io.SectionReader) (io.ReadCloser, error) {
	dec, err := decompressorFor(m.Name)
	if err != nil {
		return nil, err
	}
	rc, err := dec(sr)
	if err != nil {
		return nil, fmt.Errorf("deb: decompress %s: %w", m.Name, noEOF(err))
	}
	return &namedReader{name: m.Name, rc: rc}, nil
}

// namedReader adds the member name to decompression errors, which
// otherwise say only "unexpected EOF" or "invalid header".
type namedReader struct {
	name string
	rc   io.ReadCloser
}

func (n *namedReader) Read(p []byte) (int, error) {
	c, err := n.rc.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("deb: decompress %s: %w", n.name, err)
	}
	return c, err
}

func (n *namedReader) Close() error { return n.rc.Close() }

// OpenCompressed decompresses a file compressed as its name's suffix says
// (.xz, .gz, .zst, .bz2, .lzma; any other name is read as it is), with the
// decoders the .deb members use: an archive's Packages indexes come in the
// same formats.
func OpenCompressed(name string, sr *io.SectionReader) (io.ReadCloser, error) {
	ext := ""
	for _, e := range []string{".xz", ".gz", ".zst", ".bz2", ".lzma"} {
		if strings.HasSuffix(name, e) {
			ext = e
		}
	}
	d, err := decompressorFor(".tar" + ext)
	if err != nil {
		return nil, err
	}
	return d(sr)
}
