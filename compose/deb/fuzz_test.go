package deb

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fuzzSeeds are tiny packages covering each decompressor; they are also
// what TestWriteFuzzSeeds writes to testdata/fuzz/FuzzOpen.
func fuzzSeeds(t testing.TB) map[string][]byte {
	tiny := []file{{name: "./", dir: true}, {name: "./f", data: "hi\n"}}
	return map[string][]byte{
		"gz-xz":    makeDeb(t, ".gz", ".xz", tiny),
		"xz-zst":   makeDeb(t, ".xz", ".zst", tiny),
		"none-gz":  makeDeb(t, "", ".gz", tiny),
		"zst-none": makeDeb(t, ".zst", "", tiny),
	}
}

func FuzzOpen(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if errors.Is(err, io.EOF) {
				t.Fatalf("Open returned a bare EOF: %v", err)
			}
			return
		}
		if _, err := p.Control(); errors.Is(err, io.EOF) {
			t.Fatalf("Control returned a bare EOF: %v", err)
		}
		tr, closer, err := p.Data()
		if err != nil {
			return
		}
		defer closer.Close()
		for {
			_, err := tr.Next()
			if err != nil {
				break
			}
			// Bound the work per input: a tiny hostile stream can claim
			// gigabytes of output.
			if _, err := io.CopyN(io.Discard, tr, 1<<20); err != nil && err != io.EOF {
				break
			}
		}
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpus when
// TBK_WRITE_FUZZ_SEEDS=1 is set.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("TBK_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set TBK_WRITE_FUZZ_SEEDS=1 to regenerate testdata/fuzz/FuzzOpen")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzOpen")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range fuzzSeeds(t) {
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
