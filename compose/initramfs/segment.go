package initramfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strconv"
	"time"

	"github.com/tinyboot/tinyboot/internal/cache"
)

// CacheKind is the cache directory of compressed segments.
const CacheKind = "initramfs"

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
// twice; that is what makes a strong, slow level affordable. A nil cache
// compresses every time.
func Compress(name string, a *Archive, mtime time.Time, c Compression, level Level, store *cache.Cache) (*Segment, error) {
	seg := &Segment{Name: name}
	var entry string
	var sum []byte
	if store != nil {
		// The cache is looked up by the hash of the cpio bytes, which are
		// streamed through the hash rather than held: a warm build then
		// reads its files once and allocates nothing for them.
		h := &countingHash{Hash: sha256.New()}
		if err := a.WriteTo(h, mtime); err != nil {
			return nil, err
		}
		sum = h.Sum(nil)
		seg.Raw = h.n
		entry = cache.Key(CacheKind, "content", hex.EncodeToString(sum), string(c), strconv.Itoa(int(level)), encoderVersion) + ".cpio"
		if b, ok := store.Get(CacheKind, entry); ok {
			seg.Data, seg.Cached = b, true
			return seg, nil
		}
	}
	var out bytes.Buffer
	zw, err := NewWriter(&out, c, level)
	if err != nil {
		return nil, err
	}
	// Written again, into the compressor, and hashed again: should a file
	// change between the two passes, the result is not cached under the
	// old content's hash.
	h := &countingHash{Hash: sha256.New()}
	if err := a.WriteTo(io.MultiWriter(zw, h), mtime); err != nil {
		return nil, fmt.Errorf("initramfs: compress %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("initramfs: compress %s: %w", name, err)
	}
	seg.Data, seg.Raw = out.Bytes(), h.n
	if entry != "" && bytes.Equal(h.Sum(nil), sum) {
		// A cache write failure only costs speed next time; the build goes on.
		_ = store.Put(CacheKind, entry, seg.Data)
	}
	return seg, nil
}

// countingHash is a hash that also counts the bytes written to it.
type countingHash struct {
	hash.Hash
	n int64
}

func (h *countingHash) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	return h.Hash.Write(p)
}

// encoderVersion changes whenever the compressors' settings do, so that
// cached segments made with old settings are not reused.
const encoderVersion = "1"

// CompressKeyed is Compress for a segment whose content the caller can name
// with key without producing it: fill runs, and the files it adds are
// read, only when the cache has no segment for key. The key must change
// whenever the content would, e.g. a content-addressed path; "" falls back
// to Compress.
func CompressKeyed(name, key string, fill func(*Archive) error, mtime time.Time, c Compression, level Level, store *cache.Cache) (*Segment, error) {
	var entry string
	if key != "" && store != nil {
		entry = cache.Key(CacheKind, "named", name, key, strconv.FormatInt(mtime.Unix(), 10), string(c), strconv.Itoa(int(level)), encoderVersion) + ".cpio"
		if b, ok := store.Get(CacheKind, entry); ok {
			return &Segment{Name: name, Data: b, Cached: true}, nil
		}
	}
	a := New()
	if err := fill(a); err != nil {
		return nil, err
	}
	seg, err := Compress(name, a, mtime, c, level, store)
	if err != nil {
		return nil, err
	}
	if entry != "" {
		_ = store.Put(CacheKind, entry, seg.Data) // only speed is lost if this fails
	}
	return seg, nil
}
