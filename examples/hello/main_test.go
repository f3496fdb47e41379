package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCountBoot(t *testing.T) {
	dir := t.TempDir()
	for want := 1; want <= 3; want++ {
		got, err := countBoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("boot %d: count %d", want, got)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "boots"))
	if err != nil || string(b) != "3\n" {
		t.Fatalf("boots file = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "boots.tmp")); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "boots"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := countBoot(dir); err == nil {
		t.Fatal("countBoot accepted a corrupt counter")
	}
}

func TestMux(t *testing.T) {
	iso := t.TempDir()
	if err := os.MkdirAll(filepath.Join(iso, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(iso, "www", "index.html"), []byte("from the iso"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TINYBOOT_ISO", iso)
	t.Setenv("GREETING", "hi there")
	srv := httptest.NewServer(newMux(7, time.Now()))
	defer srv.Close()

	tests := []struct {
		path, want string
		code       int
	}{
		{"/", "boot count: 7", 200},
		{"/", "hi there", 200},
		{"/", "hostname: ", 200},
		{"/iso/www/index.html", "from the iso", 200},
		{"/nope", "", 404},
	}
	for _, tc := range tests {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s = %d %q, want %d containing %q", tc.path, resp.StatusCode, body, tc.code, tc.want)
		}
	}
}

// TestSIGTERM runs the app as a child process (this test binary, re-run
// with HELLO_RUN_MAIN set) and checks the shutdown protocol the agent
// relies on.
func TestSIGTERM(t *testing.T) {
	if os.Getenv("HELLO_RUN_MAIN") != "" {
		os.Args = []string{"hello", "-addr", "127.0.0.1:0"}
		main()
		os.Exit(0)
	}
	persist := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGTERM$")
	cmd.Env = append(os.Environ(), "HELLO_RUN_MAIN=1", "TINYBOOT_PERSISTENT="+persist)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	var got []string
	for lines.Scan() {
		got = append(got, lines.Text())
		if strings.HasPrefix(lines.Text(), "hello: listening on") {
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v (output %q)", err, got)
	}
	want := []string{"hello: boot count 1", "hello: listening on 127.0.0.1:0", "hello: got SIGTERM, shutting down", "hello: bye"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
