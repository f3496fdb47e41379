package decompress

import (
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func TestRoundTripAndSniff(t *testing.T) {
	want := bytes.Repeat([]byte("070701 TRAILER!!! payload "), 500)
	encode := map[Format]func(w io.Writer) (io.WriteCloser, error){
		Gzip: func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil },
		Zstd: func(w io.Writer) (io.WriteCloser, error) { return zstd.NewWriter(w) },
		XZ:   func(w io.Writer) (io.WriteCloser, error) { return xz.NewWriter(w) },
	}
	for f, enc := range encode {
		t.Run(string(f), func(t *testing.T) {
			var b bytes.Buffer
			// Two streams back to back read as one, as in an initramfs.
			for range 2 {
				w, err := enc(&b)
				if err != nil {
					t.Fatal(err)
				}
				w.Write(want)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := Sniff(b.Bytes())
			if !ok || got != f {
				t.Fatalf("Sniff = %q, %v; want %q", got, ok, f)
			}
			r, err := NewReader(f, &b)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			out, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, append(append([]byte{}, want...), want...)) {
				t.Errorf("decoded %d bytes, want %d", len(out), 2*len(want))
			}
		})
	}
	if _, ok := Sniff([]byte("070701")); ok {
		t.Error("an uncompressed cpio header sniffed as compressed")
	}
}

func TestByExt(t *testing.T) {
	for ext, want := range map[string]Format{"": None, ".gz": Gzip, ".xz": XZ, ".zst": Zstd, ".bz2": Bzip2, ".lzma": LZMA} {
		if got, ok := ByExt(ext); !ok || got != want {
			t.Errorf("ByExt(%q) = %q, %v", ext, got, ok)
		}
	}
	if _, ok := ByExt(".rar"); ok {
		t.Error(".rar accepted")
	}
	if _, err := NewReader("rar", bytes.NewReader(nil)); err == nil {
		t.Error("unknown format opened")
	}
}
