package app

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestBuildGoWithOptions builds a program whose output depends on a build
// tag and an -X flag and runs it (the build host is linux/amd64 too).
func TestBuildGoWithOptions(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "opt")
	writeModule(t, src, "package main\n\nvar version = \"none\"\nvar tagged = \"no\"\n\nfunc main() { println(version, tagged) }\n")
	if err := os.WriteFile(filepath.Join(src, "tagged.go"), []byte("//go:build special\n\npackage main\n\nfunc init() { tagged = \"yes\" }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, "none no\n"},
		{Options{Tags: []string{"special", "other"}, LDFlags: "-X main.version=1.2"}, "1.2 yes\n"},
	}
	for i, tc := range tests {
		out := filepath.Join(dir, "bin"+string(rune('0'+i)))
		if err := BuildGoWith(context.Background(), "./opt", dir, out, tc.opts); err != nil {
			t.Fatal(err)
		}
		got, err := exec.Command(out).CombinedOutput()
		if err != nil {
			t.Fatalf("run %+v: %v\n%s", tc.opts, err, got)
		}
		if string(got) != tc.want {
			t.Errorf("%+v: printed %q, want %q", tc.opts, got, tc.want)
		}
	}
}

func TestOptionsArgs(t *testing.T) {
	got := Options{Tags: []string{"a", "b"}, LDFlags: "-X m.v=1"}.args()
	want := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid= -X m.v=1", "-tags=a,b"}
	if !slices.Equal(got, want) {
		t.Errorf("args = %q, want %q", got, want)
	}
	if got := (Options{}).args(); !slices.Equal(got, GoBuildArgs) {
		t.Errorf("no options: args = %q", got)
	}
}
