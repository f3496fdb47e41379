package iso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testESP returns a synthetic "ESP" of n sectors with a recognisable,
// non-repeating pattern so misplaced or truncated copies are caught.
func testESP(sectors int) []byte {
	b := make([]byte, sectors*sectorSize)
	for i := range b {
		b[i] = byte(i*7 + i/sectorSize)
	}
	copy(b, "TESTESP")
	return b
}

var epoch = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// writeFile creates a file with content and mode, making parents.
func writeFile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// samplePayload builds a small tree under dir: files, an executable, a
// nested directory, an in-tree symlink and a long-ish name.
func samplePayload(t *testing.T, dir string, fileMode os.FileMode) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "etc", "tinyboot", "spec.json"), `{"v":1}`, fileMode)
	writeFile(t, filepath.Join(dir, "bin", "app"), "#!/bin/sh\necho app\n", 0o750)
	writeFile(t, filepath.Join(dir, "lib", "modules", "6.1.0", "kernel", "drivers", "virtio_net.ko"), "module bytes", fileMode)
	writeFile(t, filepath.Join(dir, "a-rather-long-file-name.with.dots.txt"), "long name", fileMode)
	writeFile(t, filepath.Join(dir, "docs", "with space ü.txt"), "unicode name", fileMode)
	writeFile(t, filepath.Join(dir, "docs", "empty"), "", fileMode)
	// Names that collide after go-diskfs's 8.3 truncation, in two groups
	// in one directory, so collision renaming must be order-independent.
	for _, n := range []string{"data.tar.gz", "data.tar.xz", "data.tar.zst", "configuration-alpha.json",
		"configuration-beta.json", "configuration-gamma.json", "CONFIGUR.JSO", "CONFIG00.JSO",
		"configxy-a.json", "configxy-b.json", "configzz-a.json", "configzz-b.json"} {
		writeFile(t, filepath.Join(dir, "collide", n), n, fileMode)
	}
	// Deeper than ISO9660's 8 levels, like a real kernel module path.
	writeFile(t, filepath.Join(dir, "lib", "modules", "6.1.0", "kernel", "drivers", "net", "ethernet", "intel", "e1000", "e1000.ko"), "e1000", fileMode)
	if err := os.Symlink("../etc/tinyboot/spec.json", filepath.Join(dir, "bin", "spec")); err != nil {
		t.Fatal(err)
	}
}

// build writes an image into dir/out.iso and returns its path.
func build(t *testing.T, dir string, opts Options) string {
	t.Helper()
	out := filepath.Join(dir, "out.iso")
	if opts.WorkDir == "" {
		opts.WorkDir = dir
	}
	if err := Write(context.Background(), out, opts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return out
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func openImage(t *testing.T, p string) *Image {
	t.Helper()
	im, err := Open(p)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { im.Close() })
	return im
}

// sampleImage builds an image of samplePayload and returns its bytes.
func sampleImage(t *testing.T, volumeID string) []byte {
	t.Helper()
	dir := t.TempDir()
	samplePayload(t, filepath.Join(dir, "src"), 0o644)
	img, err := os.ReadFile(build(t, dir, Options{VolumeID: volumeID, ESP: testESP(1), ModTime: epoch,
		Files: []Entry{{Src: filepath.Join(dir, "src"), Dst: "/"}}}))
	if err != nil {
		t.Fatal(err)
	}
	return img
}
