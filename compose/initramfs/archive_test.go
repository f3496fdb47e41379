package initramfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tinyboot/tinyboot/internal/cache"
	"time"

	"github.com/cavaliergopher/cpio"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

type record struct {
	name, body string
	mode       cpio.FileMode
}

func readAll(t *testing.T, r io.Reader) []record {
	t.Helper()
	cr := cpio.NewReader(r)
	var out []record
	for {
		h, err := cr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(cr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Mode&cpio.ModeType == cpio.TypeSymlink && h.Linkname != "" {
			b = []byte(h.Linkname)
		}
		out = append(out, record{h.Name, string(b), h.Mode})
	}
}

func TestArchiveParentsAndOrder(t *testing.T) {
	host := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(host, []byte("from host"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := New()
	must(t, a.File("/lib/modules/6.1/kernel/a.ko", 0o644, []byte("ko")))
	must(t, a.HostFile("/bin/app", 0o755, host))
	must(t, a.Symlink("/sbin/init", "/init"))
	must(t, a.Dir("/tmp", 0o1777))
	var buf bytes.Buffer
	must(t, a.WriteTo(&buf, time.Unix(0, 0)))
	got := readAll(t, &buf)
	want := []record{
		{"bin", "", cpio.TypeDir | 0o755},
		{"bin/app", "from host", cpio.TypeReg | 0o755},
		{"lib", "", cpio.TypeDir | 0o755},
		{"lib/modules", "", cpio.TypeDir | 0o755},
		{"lib/modules/6.1", "", cpio.TypeDir | 0o755},
		{"lib/modules/6.1/kernel", "", cpio.TypeDir | 0o755},
		{"lib/modules/6.1/kernel/a.ko", "ko", cpio.TypeReg | 0o644},
		{"sbin", "", cpio.TypeDir | 0o755},
		{"sbin/init", "/init", cpio.TypeSymlink | 0o777},
		{"tmp", "", cpio.TypeDir | 0o777},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestArchiveRejects(t *testing.T) {
	tests := []struct {
		name string
		do   func(a *Archive) error
	}{
		{"duplicate file", func(a *Archive) error {
			must(t, a.File("/a", 0o644, nil))
			return a.File("/a", 0o644, nil)
		}},
		{"file as parent", func(a *Archive) error {
			must(t, a.File("/a", 0o644, nil))
			return a.File("/a/b", 0o644, nil)
		}},
		{"root", func(a *Archive) error { return a.Dir("/", 0o755) }},
		{"dotdot", func(a *Archive) error { return a.File("/a/../b", 0o644, nil) }},
		{"missing host file", func(a *Archive) error { return a.HostFile("/x", 0o644, "/nonexistent/file") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(New()); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestCompressRoundTrip(t *testing.T) {
	a := New()
	must(t, a.File("/init", 0o755, bytes.Repeat([]byte("tinyboot "), 5000)))
	var raw bytes.Buffer
	must(t, a.WriteTo(&raw, time.Unix(1, 0)))
	decoders := map[Compression]func(io.Reader) (io.Reader, error){
		Zstd: func(r io.Reader) (io.Reader, error) { return zstd.NewReader(r) },
		XZ: func(r io.Reader) (io.Reader, error) {
			// The kernel only accepts CRC32 or no check in xz streams.
			b, _ := io.ReadAll(r)
			if len(b) < 8 || b[7]&0x0f != 0x01 {
				t.Errorf("xz stream flags %x: want CRC32 (1)", b[7])
			}
			return xz.NewReader(bytes.NewReader(b))
		},
		Gzip: func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
		None: func(r io.Reader) (io.Reader, error) { return r, nil },
	}
	store := cache.Open(t.TempDir())
	for c, dec := range decoders {
		for _, lvl := range []Level{Default, Best} {
			seg, err := Compress("init", a, time.Unix(1, 0), c, lvl, store)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			if seg.Cached {
				t.Errorf("%s/%d: first compression reported as cached", c, lvl)
			}
			r, err := dec(bytes.NewReader(seg.Data))
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			if !bytes.Equal(got, raw.Bytes()) {
				t.Errorf("%s: round trip differs", c)
			}
			again, err := Compress("init", a, time.Unix(1, 0), c, lvl, store)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Cached || !bytes.Equal(again.Data, seg.Data) {
				t.Errorf("%s/%d: second compression not served from cache", c, lvl)
			}
			if want := int64(raw.Len()); seg.Raw != want || again.Raw != want {
				t.Errorf("%s/%d: raw size %d, cached %d; want %d", c, lvl, seg.Raw, again.Raw, want)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	build := func(order []string) []byte {
		a := New()
		for _, p := range order {
			must(t, a.File(p, 0o644, []byte(p)))
		}
		seg, err := Compress("x", a, time.Unix(42, 0), Zstd, Default, nil)
		if err != nil {
			t.Fatal(err)
		}
		return seg.Data
	}
	if !bytes.Equal(build([]string{"/a/b", "/c", "/a/d"}), build([]string{"/c", "/a/d", "/a/b"})) {
		t.Fatal("insertion order changed the output")
	}
}

func TestParseCompression(t *testing.T) {
	for _, s := range []string{"zstd", "xz", "gzip", "none"} {
		if _, err := ParseCompression(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParseCompression("lz4"); err == nil {
		t.Error("lz4 accepted")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCompressKeyed(t *testing.T) {
	store := cache.Open(t.TempDir())
	calls := 0
	fill := func(body string) func(a *Archive) error {
		return func(a *Archive) error {
			calls++
			return a.File("/f", 0o644, []byte(body))
		}
	}
	first, err := CompressKeyed("x", "k1", fill("one"), time.Unix(0, 0), Zstd, Default, store)
	if err != nil {
		t.Fatal(err)
	}
	again, err := CompressKeyed("x", "k1", fill("ignored: the key says nothing changed"), time.Unix(0, 0), Zstd, Default, store)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || !again.Cached || !bytes.Equal(again.Data, first.Data) {
		t.Fatalf("same key: fill ran %d times, cached %v", calls, again.Cached)
	}
	other, err := CompressKeyed("x", "k2", fill("two"), time.Unix(0, 0), Zstd, Default, store)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || bytes.Equal(other.Data, first.Data) {
		t.Fatalf("new key: fill ran %d times; data equal %v", calls, bytes.Equal(other.Data, first.Data))
	}
	if _, err := CompressKeyed("x", "k3", fill("three"), time.Unix(5, 0), Zstd, Default, store); err != nil || calls != 3 {
		t.Fatalf("a different mtime must not hit the cache: %d fills, %v", calls, err)
	}
	if _, err := CompressKeyed("x", "k4", func(*Archive) error { return errors.New("boom") }, time.Unix(0, 0), Zstd, Default, store); err == nil {
		t.Fatal("fill error lost")
	}
}
