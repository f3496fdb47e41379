package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomicAndHash(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a", "b", "file")
	if err := WriteFileAtomic(p, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Fatalf("%d entries left beside the file, want 1", len(entries))
	}
	sum, err := SHA256File(p)
	if err != nil {
		t.Fatal(err)
	}
	if sum != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("sha256(abc) = %s", sum)
	}
	if _, err := SHA256File(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("hash of a missing file succeeded")
	}
}
