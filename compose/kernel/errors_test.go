package kernel

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDebsDownloadErrors checks that a failed or mismatched download
// names the entry and leaves nothing in the cache.
func TestDebsDownloadErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok.deb" {
			w.Write([]byte("some bytes"))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	sum := strings.Repeat("0", 64)
	tests := []struct {
		name string
		src  []DebSource
		want []string
	}{
		{"404", []DebSource{{URL: srv.URL + "/nope.deb", SHA256: sum}}, []string{"kernel.deb[0] " + srv.URL + "/nope.deb:", "404", "check the url"}},
		{"mismatch", []DebSource{{URL: srv.URL + "/ok.deb", SHA256: sum}}, []string{"kernel.deb[0] " + srv.URL + "/ok.deb:", "sha256 mismatch", "nothing was cached"}},
		{"unreachable", []DebSource{{URL: "http://127.0.0.1:1/x.deb", SHA256: sum}}, []string{"kernel.deb[0] http://127.0.0.1:1/x.deb:", "download", "network"}},
		{"missing path", []DebSource{{Path: "/nonexistent/a.deb"}}, []string{"kernel.deb[0] /nonexistent/a.deb:", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			r := &Resolver{CacheDir: cache}
			_, err := r.Debs(context.Background(), tt.src)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			entries, _ := os.ReadDir(filepath.Join(cache, "debs"))
			if len(entries) > 0 {
				t.Errorf("cache holds %d entries after a failed download", len(entries))
			}
		})
	}
}

func TestFromDirErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		vmlinuz, modules, want string
	}{
		{filepath.Join(dir, "none"), dir, "kernel.vmlinuz"},
		{dir, dir, "kernel.vmlinuz " + dir + " is not a file"},
		{file, filepath.Join(dir, "none"), "kernel.modules_dir"},
		{file, file, "kernel.modules_dir " + file + " is not a directory"},
	}
	for _, tt := range tests {
		if _, err := FromDir(tt.vmlinuz, tt.modules); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("FromDir(%s, %s) = %v, want %q", tt.vmlinuz, tt.modules, err, tt.want)
		}
	}
}
