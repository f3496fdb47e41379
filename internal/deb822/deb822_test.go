package deb822

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		keep []string
		want []Paragraph
		err  string
	}{
		{name: "empty", in: "\n\n", want: nil},
		{name: "two paragraphs, CRLF, comments", in: "# head\r\nPackage: a\r\nVersion: 1\r\n\r\n\r\n#c\nPackage: b\n", want: []Paragraph{
			{Line: 2, Fields: []Field{{Name: "Package", Key: "package", Value: "a", Line: 2}, {Name: "Version", Key: "version", Value: "1", Line: 3}}},
			{Line: 7, Fields: []Field{{Name: "Package", Key: "package", Value: "b", Line: 7}}},
		}},
		{name: "continuations", in: "Description: short\n long\n .\n\tmore\nSHA256:\n aa 1 x\n bb 2 y\n", want: []Paragraph{
			{Line: 1, Fields: []Field{{Name: "Description", Key: "description", Value: "short\nlong\n\nmore", Line: 1}, {Name: "SHA256", Key: "sha256", Value: "\naa 1 x\nbb 2 y", Line: 5}}},
		}},
		{name: "keep", in: "Package: a\nDescription: d\n lots\nDEPENDS: b,\n c\n", keep: []string{"package", "Depends"}, want: []Paragraph{
			{Line: 1, Fields: []Field{{Name: "Package", Key: "package", Value: "a", Line: 1}, {Name: "DEPENDS", Key: "depends", Value: "b,\nc", Line: 4}}},
		}},
		{name: "long line", in: "A: " + strings.Repeat("x", 200<<10) + "\nB: 1\n", keep: []string{"b"}, want: []Paragraph{
			{Line: 1, Fields: []Field{{Name: "B", Key: "b", Value: "1", Line: 2}}},
		}},
		{name: "continuation first", in: " x\n", err: "line 1: continuation line before any field"},
		{name: "not a field", in: "A: 1\nno colon here\n", err: "line 2: not a field"},
		{name: "space in name", in: "A B: 1\n", err: "line 1: not a field"},
		{name: "duplicate", in: "A: 1\na: 2\n", err: "line 2: duplicate field a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.in))
			if tt.keep != nil {
				r.Keep(tt.keep...)
			}
			var got []Paragraph
			for {
				p, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					if tt.err == "" || !strings.Contains(err.Error(), tt.err) {
						t.Fatalf("err = %v, want %q", err, tt.err)
					}
					return
				}
				got = append(got, *p)
			}
			if tt.err != "" {
				t.Fatalf("no error, want %q", tt.err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestGet(t *testing.T) {
	ps, err := ReadAll(strings.NewReader("Package: a\npre-depends: b\n"))
	if err != nil || len(ps) != 1 {
		t.Fatal(ps, err)
	}
	if v, ok := ps[0].Get("Pre-Depends"); !ok || v != "b" {
		t.Errorf("Get(Pre-Depends) = %q, %v", v, ok)
	}
	if _, ok := ps[0].Get("Depends"); ok {
		t.Error("Get found an absent field")
	}
	if ps[0].Value("PACKAGE") != "a" {
		t.Error("Value is not case-insensitive")
	}
}

// BenchmarkPackagesIndex reads an index the size of Debian's main for one
// architecture (60,000 paragraphs), keeping what resolution keeps.
func BenchmarkPackagesIndex(b *testing.B) {
	var sb strings.Builder
	for i := range 60000 {
		fmt.Fprintf(&sb, "Package: pkg%d\nVersion: 1.%d-1\nArchitecture: amd64\nMaintainer: M <m@example.org>\nInstalled-Size: 100\nDepends: libc6 (>= 2.36), libfoo%d\nFilename: pool/main/p/pkg%d/pkg%d_1_amd64.deb\nSize: 1234\nMD5sum: 0123456789abcdef0123456789abcdef\nSHA256: %064d\nDescription: package %d\n a longer description\n .\n over lines\nTag: a, b\n\n", i, i, i, i, i, i, i)
	}
	data := sb.String()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := NewReader(strings.NewReader(data))
		r.Keep("Package", "Version", "Architecture", "Filename", "SHA256", "Size", "Depends", "Pre-Depends", "Provides")
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}
