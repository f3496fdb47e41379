package initramfs

import (
	"fmt"
	"io"
	"runtime"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression names an initramfs compressor the kernel can unpack.
type Compression string

// Supported compressions. Debian's kernel unpacks all of them.
const (
	Zstd Compression = "zstd"
	XZ   Compression = "xz"
	Gzip Compression = "gzip"
	None Compression = "none"
)

// ParseCompression checks a --compression value.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(s); c {
	case Zstd, XZ, Gzip, None:
		return c, nil
	}
	return "", fmt.Errorf("unknown compression %q (want zstd, xz, gzip or none)", s)
}

// Level trades time for size.
type Level int

// Levels: Fast for edit-build-boot loops, Best for parts cached by content.
const (
	Default Level = iota
	Best
)

// NewWriter returns a writer compressing into w; Close flushes it but does
// not close w.
func NewWriter(w io.Writer, c Compression, level Level) (io.WriteCloser, error) {
	switch c {
	case Zstd:
		lvl := zstd.SpeedDefault
		if level == Best {
			lvl = zstd.SpeedBestCompression
		}
		return zstd.NewWriter(w,
			zstd.WithEncoderLevel(lvl),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
			// The kernel's zstd decoder needs the window to fit its
			// preallocated workspace; 8 MiB is what zstd(1) uses by default.
			zstd.WithWindowSize(8<<20),
			zstd.WithEncoderCRC(true))
	case XZ:
		// The kernel's xz decoder only supports CRC32 (and none); the
		// default CRC64 makes it panic at boot.
		cfg := xz.WriterConfig{CheckSum: xz.CRC32, DictCap: 8 << 20}
		return cfg.NewWriter(w)
	case Gzip:
		lvl := gzip.DefaultCompression
		if level == Best {
			lvl = gzip.BestCompression
		}
		return gzip.NewWriterLevel(w, lvl)
	case None:
		return nopCloser{w}, nil
	}
	return nil, fmt.Errorf("unknown compression %q", c)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
