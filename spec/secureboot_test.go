package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/compose/secureboot"
)

// TestSecureBootDiagnostics: the key pair's problems are reported at the
// key they concern, errors and warnings as such.
func TestSecureBootDiagnostics(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "b"} {
		if err := secureboot.Create(filepath.Join(dir, d), "t", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	open := filepath.Join(dir, "open.key")
	b, _ := os.ReadFile(filepath.Join(dir, "a", "db.key"))
	if err := os.WriteFile(open, b, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o644)
	tests := []struct {
		name, key, cert string
		wantPath        string
		wantSev         string
		wantMsg         string
	}{
		{"good", "a/db.key", "a/db.crt", "", "", ""},
		{"mismatch", "b/db.key", "a/db.crt", "secure_boot.key", SeverityError, "does not belong to certificate"},
		{"missing key", "a/nope.key", "a/db.crt", "secure_boot.key", SeverityError, "does not exist"},
		{"missing cert", "a/db.key", "a/nope.crt", "secure_boot.cert", SeverityError, "does not exist"},
		{"key readable by others", open, "a/db.crt", "secure_boot.key", SeverityWarning, "readable by group or others"},
		{"cert given as key", "a/db.crt", "a/db.crt", "secure_boot.key", SeverityError, "not a private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "name: t\nkernel: {vmlinuz: /dev/null, modules_dir: /}\napp: {binary: /bin/sh}\nsecure_boot:\n  key: " + tt.key + "\n  cert: " + tt.cert + "\n"
			_, diags := Parse(filepath.Join(dir, "tinyboot.yaml"), []byte(text))
			var found *Diagnostic
			for i, d := range diags {
				if strings.HasPrefix(d.Path, "secure_boot") {
					found = &diags[i]
				}
			}
			if tt.wantPath == "" {
				if found != nil {
					t.Errorf("unexpected diagnostic %+v", *found)
				}
				return
			}
			if found == nil {
				t.Fatalf("no secure_boot diagnostic; got %+v", diags)
			}
			if found.Path != tt.wantPath || found.Severity != tt.wantSev || !strings.Contains(found.Message, tt.wantMsg) || found.Line == 0 {
				t.Errorf("diagnostic %+v, want %s %s %q with a line", *found, tt.wantPath, tt.wantSev, tt.wantMsg)
			}
		})
	}
}
