package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCacheInfoAndClean(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg)
	t.Setenv("TINYBOOT_CACHE_LIMIT", "")
	for _, f := range []string{"esp/a.img", "esp/b.img", "debs/k.deb"} {
		p := filepath.Join(xdg, "tinyboot", f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, 2048), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out := runCLI(t, "cache", "info")
	if code != exitOK {
		t.Fatalf("info: exit %d\n%s", code, out)
	}
	for _, want := range []string{"limit 2048.00 MiB", "debs", "esp            2 entries", "6.0 KiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	if code, out := runCLI(t, "cache", "clean"); code != exitOK || !strings.Contains(out, "removed 6.0 KiB") {
		t.Fatalf("clean: exit %d\n%s", code, out)
	}
	if entries, _ := os.ReadDir(filepath.Join(xdg, "tinyboot")); len(entries) > 1 || (len(entries) == 1 && entries[0].Name() != ".lock") {
		t.Errorf("clean left %v", entries)
	}
	t.Setenv("TINYBOOT_CACHE_LIMIT", "lots")
	if code, _ := runCLI(t, "cache", "info"); code != exitUsage {
		t.Errorf("bad TINYBOOT_CACHE_LIMIT: exit %d, want %d", code, exitUsage)
	}
}
