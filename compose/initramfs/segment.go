package initramfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tinyboot/tinyboot/internal/fsutil"
)

// Segment is one compressed cpio archive of an initramfs.
type Segment struct {
	// Name says what the segment holds ("agent", "modules"), for reports.
	Name string
	// Data is the compressed archive.
	Data []byte
	// Raw is the uncompressed cpio size, for size reports.
	Raw int64
	// Cached is true when Data came from the cache rather than compression.
	Cached bool
}

// Compress writes a as cpio and compresses it. When cacheDir is not empty
// the result is kept there under the hash of the cpio bytes, compression
// and level, so a segment whose content did not change is never compressed
// twice; that is what makes a strong, slow level affordable.
func Compress(name string, a *Archive, mtime time.Time, c Compression, level Level, cacheDir string) (*Segment, error) {
	var raw bytes.Buffer
	if err := a.WriteTo(&raw, mtime); err != nil {
		return nil, err
	}
	seg := &Segment{Name: name, Raw: int64(raw.Len())}
	var cachePath string
	if cacheDir != "" {
		sum := sha256.Sum256(raw.Bytes())
		cachePath = filepath.Join(cacheDir, fmt.Sprintf("%s-%s-%d.cpio", hex.EncodeToString(sum[:16]), c, level))
		if b, err := os.ReadFile(cachePath); err == nil {
			seg.Data, seg.Cached = b, true
			return seg, nil
		}
	}
	var out bytes.Buffer
	zw, err := NewWriter(&out, c, level)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, fmt.Errorf("initramfs: compress %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("initramfs: compress %s: %w", name, err)
	}
	seg.Data = out.Bytes()
	if cachePath != "" {
		// A cache write failure only costs speed next time; the build goes on.
		_ = fsutil.WriteFileAtomic(cachePath, seg.Data)
	}
	return seg, nil
}
