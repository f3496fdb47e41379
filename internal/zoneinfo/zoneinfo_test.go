package zoneinfo

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// writeZip makes a zoneinfo.zip-shaped file with the given entries.
func writeZip(t *testing.T, entries map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, body := range entries {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(body))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "zoneinfo.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpen(t *testing.T) {
	p := writeZip(t, map[string]string{"Europe/Berlin": "TZif-berlin", "UTC": "TZif-utc", "America/New_York": "TZif-ny"})
	db, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if !db.Has("Europe/Berlin") || !db.Has("UTC") || db.Has("Europe/Berlinn") || db.Has("Europe") {
		t.Errorf("Has is wrong for %v", db.Zones)
	}
	b, err := db.TZif("America/New_York")
	if err != nil || string(b) != "TZif-ny" {
		t.Errorf("TZif = %q, %v", b, err)
	}
	if _, err := db.TZif("Mars/Olympus"); err == nil {
		t.Error("TZif of a missing zone: no error")
	}
	if len(db.SHA256) != 64 {
		t.Errorf("SHA256 = %q", db.SHA256)
	}
}

func TestOpenRefusesEscapingNames(t *testing.T) {
	db, err := Open(writeZip(t, map[string]string{"../evil": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Walk(func(string, []byte) error { return nil }); err == nil {
		t.Error("Walk accepted an entry named ../evil")
	}
}

func TestOpenNotAZip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "zoneinfo.zip")
	os.WriteFile(p, []byte("not a zip"), 0o644)
	if _, err := Open(p); err == nil {
		t.Error("no error for a file that is not a zip")
	}
}

// TestLoadToolchain reads the real database of the go command running
// the tests.
func TestLoadToolchain(t *testing.T) {
	db, err := Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range []string{"Europe/Berlin", "America/New_York", "UTC"} {
		if !db.Has(z) {
			t.Errorf("%s lacks %s", db.Path, z)
		}
	}
}
