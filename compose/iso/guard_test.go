package iso

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// TestGuardGoDiskfsPanic reads an image whose Rock Ridge deep-directory
// relocation (written by go-diskfs itself, the reason Write uses
// DeepDirectories) makes the go-diskfs reader panic; Image must report an
// error instead.
func TestGuardGoDiskfsPanic(t *testing.T) {
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	deep := filepath.Join(append([]string{ws}, strings.Split("a/b/c/d/e/f/g/h/i/j/k", "/")...)...)
	writeFile(t, filepath.Join(deep, "leaf.txt"), "deep", 0o644)
	out := filepath.Join(dir, "relocated.iso")
	f, err := os.Create(out)
	must(t, err)
	fsys, err := iso9660.Create(file.New(f, false), 0, 0, sectorSize, ws)
	must(t, err)
	must(t, fsys.Finalize(iso9660.FinalizeOptions{RockRidge: true}))
	must(t, f.Close())

	im := openImage(t, out)
	_, err = im.ReadFile("/a/b/c/d/e/f/g/h/i/j/k/leaf.txt")
	if err == nil || !strings.Contains(err.Error(), "malformed ISO9660") {
		t.Fatalf("err = %v, want a recovered go-diskfs panic", err)
	}
}
