// Package debtest writes synthetic Debian packages for tests: tar members,
// the ar container, and a whole uncompressed .deb, with fixed times so the
// bytes are the same on every run.
package debtest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// mtime is stamped on every tar entry and ar member.
var mtime = time.Unix(1700000000, 0)

// Entry is one tar member; a Name ending in "/" is a directory.
type Entry struct {
	Name string
	Data []byte
}

// Tar writes entries as a tar archive.
func Tar(t testing.TB, entries []Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: 0o644, Size: int64(len(e.Data)), ModTime: mtime, Typeflag: tar.TypeReg}
		if strings.HasSuffix(e.Name, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Member is one member of an ar archive.
type Member struct {
	Name string
	Data []byte
}

// Ar writes members as an ar archive, the container of a .deb.
func Ar(members []Member) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", m.Name, mtime.Unix(), 0, 0, 0o100644, len(m.Data))
		b.Write(m.Data)
		if len(m.Data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// Deb is a .deb of package pkg (version 6.1.1-1, amd64) with uncompressed
// control.tar and data.tar, the latter holding files.
func Deb(t testing.TB, pkg string, files []Entry) []byte {
	t.Helper()
	control := fmt.Sprintf("Package: %s\nVersion: 6.1.1-1\nArchitecture: amd64\nMaintainer: Nobody <nobody@example.org>\nDescription: test\n", pkg)
	return Ar([]Member{
		{"debian-binary", []byte("2.0\n")},
		{"control.tar", Tar(t, []Entry{{"./", nil}, {"./control", []byte(control)}})},
		{"data.tar", Tar(t, files)},
	})
}
