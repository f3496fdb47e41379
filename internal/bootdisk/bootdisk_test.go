package bootdisk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/compose/esp"
)

// writeArchive writes a .tar.gz holding one file name with data.
func writeArchive(t *testing.T, path, name string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Format: tar.FormatGNU}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestExtractGCE(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 5<<20)
	copy(data, "boot sector")
	copy(data[3<<20:], "partition")
	arch := filepath.Join(dir, "img.tar.gz")
	writeArchive(t, arch, GCEDiskName, data)
	out := t.TempDir()
	got, err := ExtractGCE(arch, out)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(got)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("extracted %d bytes (%v), want the %d written", len(b), err, len(data))
	}
	if n, ok := allocated(got); ok && n >= int64(len(data)) {
		t.Errorf("disk.raw takes %d bytes on disk for %d of mostly zeros: not sparse", n, len(data))
	}
	empty := filepath.Join(dir, "empty.tar.gz")
	writeArchive(t, empty, "other.txt", []byte("x"))
	if _, err := ExtractGCE(empty, out); err == nil || !strings.Contains(err.Error(), "want the file disk.raw") {
		t.Errorf("archive without disk.raw: %v", err)
	}
}

func TestUKIDisk(t *testing.T) {
	dir := t.TempDir()
	uki := filepath.Join(dir, "hello.efi")
	want := append([]byte("MZ"), bytes.Repeat([]byte{0xaa}, 100<<10)...)
	if err := os.WriteFile(uki, want, 0o644); err != nil {
		t.Fatal(err)
	}
	disk, err := UKIDisk(uki, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fat, err := esp.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fat.ReadFile("EFI/BOOT/BOOTX64.EFI")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("EFI/BOOT/BOOTX64.EFI = %d bytes, %v; want the UKI's %d", len(got), err, len(want))
	}
	notPE := filepath.Join(dir, "notes.efi")
	os.WriteFile(notPE, []byte("hello"), 0o644)
	if _, err := UKIDisk(notPE, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a PE/EFI executable") {
		t.Errorf("UKIDisk of a text file: %v", err)
	}
}
