package gce

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var mtime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// sparseDisk makes a 1 GiB sparse file with data at the given offsets.
func sparseDisk(t *testing.T, dir string, chunks map[int64]int) (string, []byte) {
	t.Helper()
	p := filepath.Join(dir, "disk.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(GiB); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for off, n := range chunks {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(255) + 1)
		}
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return p, h.Sum(nil)
}

func writeArchive(t *testing.T, disk, out string) {
	t.Helper()
	f, err := os.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(o, f, mtime); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		chunks map[int64]int
	}{
		{"image at the start, GPT at the end", map[int64]int{0: 3 << 20, GiB - 33*512: 33 * 512}},
		// More than the header's four map entries: extension blocks.
		{"many regions", map[int64]int{0: 5000, 1 << 20: 100, 2 << 20: 8192, 3 << 20: 1, 4 << 20: 4096, 5 << 20: 3, 6 << 20: 70000,
			7 << 20: 1, 8 << 20: 1, 9 << 20: 1, 10 << 20: 1, 11 << 20: 1, 12 << 20: 1, 13 << 20: 1, 14 << 20: 1, 15 << 20: 1,
			16 << 20: 1, 17 << 20: 1, 18 << 20: 1, 19 << 20: 1, 20 << 20: 1, 21 << 20: 1, 22 << 20: 1, 23 << 20: 1, 24 << 20: 1,
			25 << 20: 1, 26 << 20: 1, 27 << 20: 1}},
		{"empty disk", map[int64]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			disk, sum := sparseDisk(t, dir, tt.chunks)
			out := filepath.Join(dir, "img.tar.gz")
			writeArchive(t, disk, out)
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() > 8<<20 {
				t.Errorf("archive is %d bytes for a disk with at most a few MiB of data: holes stored", fi.Size())
			}

			// The standard library's reader sees one sparse file.
			in, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			zr, err := gzip.NewReader(in)
			if err != nil {
				t.Fatal(err)
			}
			tr := tar.NewReader(zr)
			h, err := tr.Next()
			if err != nil {
				t.Fatal(err)
			}
			if h.Name != DiskName || h.Size != GiB || h.Typeflag != tar.TypeGNUSparse || h.Format != tar.FormatGNU {
				t.Errorf("header %q size %d type %q format %v", h.Name, h.Size, h.Typeflag, h.Format)
			}
			if !h.ModTime.Equal(mtime) || h.Mode != 0o644 {
				t.Errorf("mtime %v mode %o", h.ModTime, h.Mode)
			}
			h2 := sha256.New()
			if _, err := io.Copy(h2, tr); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(h2.Sum(nil), sum) {
				t.Error("disk read back through archive/tar differs")
			}
			if _, err := tr.Next(); err != io.EOF {
				t.Errorf("second entry: %v, want EOF", err)
			}

			// Extract keeps holes and the bytes.
			if _, err := in.Seek(0, 0); err != nil {
				t.Fatal(err)
			}
			dst, err := os.Create(filepath.Join(dir, "back.raw"))
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			d, err := Extract(in, dst)
			if err != nil {
				t.Fatal(err)
			}
			if d.Size != GiB {
				t.Errorf("extracted size %d", d.Size)
			}
			if _, err := dst.Seek(0, 0); err != nil {
				t.Fatal(err)
			}
			h3 := sha256.New()
			if n, err := io.Copy(h3, dst); err != nil || n != GiB {
				t.Fatalf("read back: %d, %v", n, err)
			}
			if !bytes.Equal(h3.Sum(nil), sum) {
				t.Error("extracted disk differs")
			}

			// GNU tar, what Google's documentation uses, agrees.
			if _, err := exec.LookPath("tar"); err == nil {
				xdir := filepath.Join(dir, "x")
				if err := os.Mkdir(xdir, 0o755); err != nil {
					t.Fatal(err)
				}
				if o, err := exec.Command("tar", "-xzf", out, "-C", xdir).CombinedOutput(); err != nil {
					t.Fatalf("tar -xzf: %v\n%s", err, o)
				}
				b, err := os.Open(filepath.Join(xdir, DiskName))
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				h4 := sha256.New()
				if _, err := io.Copy(h4, b); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(h4.Sum(nil), sum) {
					t.Error("GNU tar extracts a different disk")
				}
			}

			// Same disk, same archive bytes.
			out2 := filepath.Join(dir, "again.tar.gz")
			writeArchive(t, disk, out2)
			a, _ := os.ReadFile(out)
			b, _ := os.ReadFile(out2)
			if !bytes.Equal(a, b) {
				t.Error("two archives of the same disk differ")
			}
		})
	}
}

func TestWriteRefusesPartialGiB(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "d")
	if err := os.WriteFile(p, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Write(io.Discard, f, mtime); err == nil || !strings.Contains(err.Error(), "whole number of GiB") {
		t.Errorf("Write of a 4 KiB disk: %v", err)
	}
}

func TestExtractRefuses(t *testing.T) {
	mk := func(names ...string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		tw := tar.NewWriter(zw)
		for _, n := range names {
			_ = tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
			_, _ = tw.Write([]byte{1})
		}
		tw.Close()
		zw.Close()
		return b.Bytes()
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not gzip", []byte("hello"), "not a gzip"},
		{"wrong name", mk("disk.img"), "want the file disk.raw"},
		{"two files", mk("disk.raw", "extra"), "more than disk.raw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := Extract(bytes.NewReader(tt.data), f); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Extract: %v, want %q", err, tt.want)
			}
		})
	}
}
