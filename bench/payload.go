package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/tinyboot/tinyboot/compose/iso"
)

// pipelineLevels are the zstd levels the pipeline runs at: zstd's default,
// the fastest a script would use, and 19, the strong level scripts use to
// make small images.
var pipelineLevels = []int{3, 19}

// bootTimeout bounds one TCG boot; they take 10-20 s on an idle machine.
const bootTimeout = 3 * time.Minute

// makePayload writes a payload file of size bytes: a hole when sparse,
// otherwise pseudo-random data, so no filesystem or copy shortcut applies.
func makePayload(path string, size int64, dense bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if !dense {
		if err := f.Truncate(size); err != nil {
			f.Close()
			return fmt.Errorf("payload: %w", err)
		}
		return f.Close()
	}
	// One random MiB with a counter stamped into each copy: cheap to make,
	// and no two blocks are alike for deduplicating storage.
	block := make([]byte, 1<<20)
	rng := rand.New(rand.NewChaCha8([32]byte{'t', 'b'}))
	for i := 0; i < len(block); i += 8 {
		binary.LittleEndian.PutUint64(block[i:], rng.Uint64())
	}
	for off := int64(0); off < size; off += int64(len(block)) {
		binary.LittleEndian.PutUint64(block, uint64(off))
		n := min(int64(len(block)), size-off)
		if _, err := f.Write(block[:n]); err != nil {
			f.Close()
			return fmt.Errorf("payload: %w", err)
		}
	}
	return f.Close()
}

// volumeLabel is the ISO's volume ID, which the pipeline reuses.
func volumeLabel(path string) (string, error) {
	im, err := iso.Open(path)
	if err != nil {
		return "", err
	}
	defer im.Close()
	return strings.TrimSpace(im.Label()), nil
}
