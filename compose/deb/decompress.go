package deb

import (
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/tinyboot/tinyboot/internal/decompress"
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
	f, ok := decompress.ByExt(ext)
	if !ok {
		return nil, fmt.Errorf("deb: member %s: unsupported compression %q", name, ext)
	}
	if f == decompress.XZ {
		return openXZ, nil
	}
	return func(sr *io.SectionReader) (io.ReadCloser, error) { return decompress.NewReader(f, sr) }, nil
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
	return decompress.NewReader(decompress.XZ, sr)
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
