package initramfs

import (
	"bytes"
	"io/fs"
	"testing"
	"time"

	"github.com/cavaliergopher/cpio"
)

// TestReadFindsBoundariesFromTheStream reads back segments whose file
// contents look like cpio structure: an app that links a cpio library
// carries "070701" and "TRAILER!!!" in its bytes, and a reader that
// searched for them would cut the archive there.
func TestReadFindsBoundariesFromTheStream(t *testing.T) {
	tricky := []byte("ELF...070701000000000000000000TRAILER!!!\x00\x00070701 and more TRAILER!!!")
	mk := func(fill func(a *Archive)) *Archive {
		a := New()
		fill(a)
		return a
	}
	segs := []*Archive{
		mk(func(a *Archive) { must(t, a.Dir("/etc", 0o755)); must(t, a.Symlink("/bin/sh", "/init")) }),
		mk(func(a *Archive) { must(t, a.File("/bin/app", 0o755, tricky)) }),
		mk(func(a *Archive) { must(t, a.File("/etc/spec.json", 0o644, []byte("{}"))) }),
	}
	for _, c := range []Compression{None, Zstd, Gzip, XZ} {
		t.Run(string(c), func(t *testing.T) {
			var img bytes.Buffer
			for i, a := range segs {
				seg, err := Compress("s", a, time.Unix(7, 0), c, Default, nil)
				if err != nil {
					t.Fatal(err)
				}
				img.Write(seg.Data)
				if i == 0 && c == None {
					img.Write(make([]byte, 4)) // padding the kernel skips
				}
			}
			files, err := Read(img.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]File{}
			for _, f := range files {
				got[f.Path] = f
			}
			if app := got["/bin/app"]; !bytes.Equal(app.Data, tricky) || app.Mode != 0o755 || app.Archive != 1 {
				t.Errorf("/bin/app = %q mode %v archive %d", app.Data, app.Mode, app.Archive)
			}
			if sh := got["/bin/sh"]; sh.Link != "/init" || sh.Mode&fs.ModeSymlink == 0 {
				t.Errorf("/bin/sh = %+v", sh)
			}
			if d := got["/etc"]; !d.Mode.IsDir() {
				t.Errorf("/etc mode %v", d.Mode)
			}
			if s := got["/etc/spec.json"]; string(s.Data) != "{}" || s.Archive != 2 {
				t.Errorf("/etc/spec.json = %+v", s)
			}
		})
	}
}

func TestReadRejectsDamage(t *testing.T) {
	a := New()
	must(t, a.File("/x", 0o644, []byte("hello")))
	seg, err := Compress("s", a, time.Unix(0, 0), None, Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"truncated": seg.Data[:len(seg.Data)-60],
		"bad magic": append([]byte("999999"), seg.Data[6:]...),
		"not cpio":  []byte("just text"),
		"bad zstd":  {0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3},
		"bad hex":   append(append([]byte{}, seg.Data[:6]...), append([]byte("zzzzzzzz"), seg.Data[14:]...)...),
		"huge name": append(append(append([]byte{}, seg.Data[:94]...), []byte("7fffffff")...), seg.Data[102:]...),
	} {
		if _, err := Read(data); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}

// cpioArchive writes a newc archive of the named empty files.
func cpioArchive(t *testing.T, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	for _, n := range names {
		body := []byte(n)
		if err := w.WriteHeader(&cpio.Header{Name: n, Mode: cpio.TypeReg | 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSplit cuts archives written by another implementation (cavaliergopher/cpio).
func TestSplit(t *testing.T) {
	a, b := cpioArchive(t, "init", "etc/x"), cpioArchive(t, "bin/app")
	for _, tc := range []struct {
		name    string
		in      []byte
		want    [][]byte
		wantErr bool
	}{
		{"empty", nil, nil, false},
		{"one", a, [][]byte{a}, false},
		{"two", append(append([]byte{}, a...), b...), [][]byte{a, b}, false},
		{"zero padding between", append(append(append([]byte{}, a...), make([]byte, 512)...), b...), [][]byte{a, b}, false},
		{"truncated", a[:len(a)-40], nil, true},
		{"garbage", []byte("not a cpio archive at all"), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Split(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d archives, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Errorf("archive %d: %d bytes, want %d", i, len(got[i]), len(tc.want[i]))
				}
			}
		})
	}
}
