package debtest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// PackageDeb builds a .deb of package name at version for arch whose data.tar
// holds files (path → content; a path ending in / is a directory).
// Members are uncompressed, which dpkg and tinyboot both accept.
func PackageDeb(t testing.TB, name, version, arch string, files map[string]string) []byte {
	t.Helper()
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test <t@example.org>\nDescription: test package\n", name, version, arch)
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	member := func(n string, b []byte) {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", n, 1700000000, 0, 0, 0o100644, len(b))
		ar.Write(b)
		if len(b)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar", tarOf(t, map[string]string{"./control": control}))
	member("data.tar", tarOf(t, files))
	return ar.Bytes()
}

func tarOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, p := range paths {
		h := &tar.Header{Name: p, Mode: 0o644, Size: int64(len(files[p])), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}
		if strings.HasSuffix(p, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[p])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
