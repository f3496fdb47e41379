package deb

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/tinyboot/tinyboot/internal/realkernel"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// walk reads every entry of a data tar, returning name -> content.
func walk(p *Package) (map[string]string, error) {
	tr, closer, err := p.Data()
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	out := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return out, err
		}
		out[hdr.Name] = string(b)
	}
}

func TestOpen(t *testing.T) {
	for _, c := range []struct{ control, data string }{
		{".gz", ".xz"},
		{".xz", ".zst"},
		{".zst", ".gz"},
		{"", ""},
		{".gz", ".lzma"},
	} {
		t.Run("control.tar"+c.control+"+data.tar"+c.data, func(t *testing.T) {
			raw := makeDeb(t, c.control, c.data, testData)
			p, err := Open(bytes.NewReader(raw), int64(len(raw)))
			if err != nil {
				t.Fatal(err)
			}
			if p.Format != "2.0" || p.DataMember().Name != "data.tar"+c.data {
				t.Fatalf("format %q, data member %q", p.Format, p.DataMember().Name)
			}
			ctl, err := p.Control()
			if err != nil {
				t.Fatal(err)
			}
			if ctl.Package != "hello" || ctl.Version != "2.10-3" || ctl.Architecture != "amd64" {
				t.Fatalf("control = %+v", ctl)
			}
			if got := fmt.Sprint(ctl.Depends); got != "[[libc6 (>= 2.34)] [debconf (>= 0.5) debconf-2.0] [foo:any]]" {
				t.Errorf("Depends = %s", got)
			}
			if got := fmt.Sprint(ctl.Provides); got != "[hello-world (= 2.10) greeter]" {
				t.Errorf("Provides = %s", got)
			}
			if got := ctl.Fields["Description"]; got != "says hello\nA longer description.\n\nSecond paragraph." {
				t.Errorf("Description = %q", got)
			}
			files, err := walk(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range testData {
				if files[f.name] != f.data {
					t.Errorf("%s: got %d bytes, want %d", f.name, len(files[f.name]), len(f.data))
				}
			}
			if len(files) != len(testData) {
				t.Errorf("got %d entries, want %d", len(files), len(testData))
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	good := makeDeb(t, ".gz", ".xz", testData)
	control := compress(t, ".gz", tarBytes(t, []file{{name: "./control", data: testControl}}))
	data := compress(t, ".xz", tarBytes(t, testData))
	corrupt := append([]byte(nil), data...)
	for i := len(corrupt) / 2; i < len(corrupt)/2+64; i++ {
		corrupt[i] ^= 0x55
	}
	tests := []struct {
		name    string
		in      []byte
		openErr string // error from Open
		readErr string // else error from Control or walking Data
	}{
		{name: "empty", in: nil, openErr: "not a Debian package: not an ar archive"},
		{name: "text", in: []byte("hello world\n"), openErr: "not a Debian package: not an ar archive"},
		{name: "no members", in: []byte("!<arch>\n"), openErr: "not a Debian package: missing debian-binary"},
		{name: "control first", in: arBytes([]arMember{{"control.tar.gz", control}}), openErr: "not a Debian package: missing debian-binary"},
		{name: "bad format", in: arBytes([]arMember{{"debian-binary", []byte("3.0\n")}}), openErr: `unsupported package format "3.0"`},
		{name: "no data", in: arBytes([]arMember{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", control}}), openErr: "deb: missing data.tar member"},
		{name: "no control", in: arBytes([]arMember{{"debian-binary", []byte("2.0\n")}, {"data.tar.xz", data}}), openErr: "deb: member data.tar.xz before control.tar"},
		{name: "unknown compression", in: arBytes([]arMember{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", control}, {"data.tar.rar", data}}), openErr: `member data.tar.rar: unsupported compression ".rar"`},
		{name: "stray member", in: arBytes([]arMember{{"debian-binary", []byte("2.0\n")}, {"evil", nil}}), openErr: "deb: unexpected member evil"},
		{name: "truncated data", in: good[:len(good)-1000], openErr: fmt.Sprintf("deb: truncated ar member data.tar.xz (want %d bytes, got %d)", len(data), len(data)-1000)},
		{name: "truncated header", in: good[:len(good)-len(data)-30], openErr: "deb: ar: truncated member header (want 60 bytes, got 30)"},
		{name: "corrupt xz", in: arBytes([]arMember{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", control}, {"data.tar.xz", corrupt}}), readErr: "deb: decompress data.tar.xz: "},
		{name: "xz too short", in: arBytes([]arMember{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", control}, {"data.tar.xz", data[:40]}}), readErr: "deb: decompress data.tar.xz: "},
		{name: "gzip garbage", in: arBytes([]arMember{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", []byte("nope")}, {"data.tar", nil}}), readErr: "deb: decompress control.tar.gz: unexpected EOF"},
		{name: "no control file", in: arBytes([]arMember{{"debian-binary", []byte("2.0\n")}, {"control.tar", tarBytes(t, []file{{name: "./md5sums"}})}, {"data.tar", nil}}), readErr: "deb: no control in control.tar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Open(bytes.NewReader(tt.in), int64(len(tt.in)))
			if tt.openErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.openErr) {
					t.Fatalf("Open error = %v, want %q", err, tt.openErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			_, err = p.Control()
			if err == nil {
				_, err = walk(p)
			}
			if err == nil || !strings.Contains(err.Error(), tt.readErr) {
				t.Fatalf("error = %v, want %q", err, tt.readErr)
			}
			if errors.Is(err, io.EOF) {
				t.Fatalf("error %v is a bare EOF", err)
			}
		})
	}
}

func TestParseDepends(t *testing.T) {
	tests := []struct {
		in   string
		want [][]Dependency
		err  string
	}{
		{in: "", want: nil},
		{in: "a", want: [][]Dependency{{{Name: "a"}}}},
		{in: "a (>= 1.0-2), b | c (<< 3)", want: [][]Dependency{
			{{Name: "a", Relation: ">=", Version: "1.0-2"}},
			{{Name: "b"}, {Name: "c", Relation: "<<", Version: "3"}},
		}},
		{in: "python3:any (>=3.9~)", want: [][]Dependency{{{Name: "python3", Arch: "any", Relation: ">=", Version: "3.9~"}}}},
		{in: "foo [amd64] <!nocheck>, bar (> 1)", want: [][]Dependency{{{Name: "foo"}}, {{Name: "bar", Relation: ">=", Version: "1"}}}},
		{in: " a ,\n b ", want: [][]Dependency{{{Name: "a"}}, {{Name: "b"}}}},
		{in: "a (1.0)", err: "bad version relation"},
		{in: "a (>= )", err: "bad version"},
		{in: "a (>= 1", err: "bad version constraint"},
		{in: "a | ", err: "empty package name"},
		{in: "a$b", err: "bad package name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDepends(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseControlErrors(t *testing.T) {
	for in, want := range map[string]string{
		"Version: 1\n":                     "missing Package field",
		" leading continuation\n":          "continuation line before any field",
		"Package: a\nPackage: b\n":         "duplicate field",
		"Package: a\nnot a field\n":        "not a field",
		"Package: a\nDepends: b (1)\n":     "Depends: bad version relation",
		"Package: a\nProvides: b | c\n":    "alternatives are not allowed",
		"package: a\nVERSION: 1\n\nX: y\n": "",
	} {
		c, err := ParseControl([]byte(in))
		if want == "" {
			if err != nil || c.Package != "a" || c.Version != "1" || len(c.Fields) != 2 {
				t.Errorf("%q: got %+v, %v", in, c, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

// TestRealKernelDeb reads the Debian kernel package the builds use.
func TestRealKernelDeb(t *testing.T) {
	want := realkernel.Find(t)
	f, err := os.Open(want.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := p.Control()
	if err != nil {
		t.Fatal(err)
	}
	// The package must say of itself what its file name says of it.
	if ctl.Package != want.Name || ctl.Version != want.Version || ctl.Architecture == "" {
		t.Fatalf("control: %+v; the file %s names %s %s", ctl, want.Path, want.Name, want.Version)
	}
	t.Logf("control: %s %s %s depends %v", ctl.Package, ctl.Version, ctl.Architecture, ctl.Depends)
	start := time.Now()
	tr, closer, err := p.Data()
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	var total int64
	var entries, modules int
	var vmlinuz bool
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, tr)
		if err != nil {
			t.Fatal(err)
		}
		total += n
		entries++
		if strings.HasSuffix(hdr.Name, ".ko") {
			modules++
		}
		vmlinuz = vmlinuz || hdr.Name == "./boot/vmlinuz-"+want.Release()
	}
	t.Logf("data.tar.xz: %d entries, %d modules, %d bytes of file data in %v", entries, modules, total, time.Since(start))
	if !vmlinuz || modules < 3000 {
		t.Fatalf("./boot/vmlinuz-%s found: %v, %d modules", want.Release(), vmlinuz, modules)
	}
}
