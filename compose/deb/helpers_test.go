package deb

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/tinyboot/tinyboot/internal/debtest"
)

// file is one entry of a synthetic tar.
type file struct {
	name string
	data string
	dir  bool
}

func tarBytes(t testing.TB, files []file) []byte {
	t.Helper()
	entries := make([]debtest.Entry, len(files))
	for i, f := range files {
		entries[i] = debtest.Entry{Name: f.name, Data: []byte(f.data)}
	}
	return debtest.Tar(t, entries)
}

// compress compresses b with the method named by a member suffix. xz uses
// small blocks so that multi-block (parallel) decoding is exercised.
func compress(t testing.TB, ext string, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	var err error
	switch ext {
	case "":
		return b
	case ".gz":
		w := gzip.NewWriter(&out)
		_, err = w.Write(b)
		if err == nil {
			err = w.Close()
		}
	case ".zst":
		var w *zstd.Encoder
		w, err = zstd.NewWriter(&out)
		if err == nil {
			_, err = w.Write(b)
		}
		if err == nil {
			err = w.Close()
		}
	case ".xz":
		var w *xz.Writer
		w, err = xz.WriterConfig{BlockSize: 4096, CheckSum: xz.CRC64}.NewWriter(&out)
		if err == nil {
			_, err = w.Write(b)
		}
		if err == nil {
			err = w.Close()
		}
	case ".lzma":
		var w *lzma.Writer
		w, err = lzma.NewWriter(&out)
		if err == nil {
			_, err = w.Write(b)
		}
		if err == nil {
			err = w.Close()
		}
	default:
		t.Fatalf("no compressor for %q", ext)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// arMember is one member of a synthetic ar archive.
type arMember struct {
	name string
	data []byte
}

func arBytes(members []arMember) []byte {
	ms := make([]debtest.Member, len(members))
	for i, m := range members {
		ms[i] = debtest.Member{Name: m.name, Data: m.data}
	}
	return debtest.Ar(ms)
}

const testControl = `Package: hello
Version: 2.10-3
Architecture: amd64
Maintainer: Someone <someone@example.org>
Depends: libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, foo:any
Provides: hello-world (= 2.10), greeter
Description: says hello
 A longer description.
 .
 Second paragraph.
`

// testData is the data.tar content of the synthetic packages.
var testData = []file{
	{name: "./", dir: true},
	{name: "./usr/", dir: true},
	{name: "./usr/bin/", dir: true},
	{name: "./usr/bin/hello", data: "#!/bin/sh\necho hello\n"},
	{name: "./usr/share/doc/hello/README", data: string(bytes.Repeat([]byte("lorem ipsum dolor sit amet "), 2000))},
}

// makeDeb builds a .deb with the given compressions for control.tar and
// data.tar.
func makeDeb(t testing.TB, controlExt, dataExt string, data []file) []byte {
	t.Helper()
	control := tarBytes(t, []file{{name: "./", dir: true}, {name: "./control", data: testControl}, {name: "./md5sums", data: ""}})
	return arBytes([]arMember{
		{"debian-binary", []byte("2.0\n")},
		{"control.tar" + controlExt, compress(t, controlExt, control)},
		{"data.tar" + dataExt, compress(t, dataExt, tarBytes(t, data))},
	})
}
