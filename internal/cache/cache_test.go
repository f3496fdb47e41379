package cache

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"12345", 12345, true},
		{"512K", 512 << 10, true},
		{"700M", 700 << 20, true},
		{"2G", 2 << 30, true},
		{"2GiB", 2 << 30, true},
		{"1T", 1 << 40, true},
		{" 3m ", 3 << 20, true},
		{"", 0, false},
		{"-1", 0, false},
		{"2X", 0, false},
		{"1.5G", 0, false},
		{"99999999999T", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseLimit(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseLimit(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestLimitFromEnv(t *testing.T) {
	t.Setenv(LimitEnv, "")
	if n, err := LimitFromEnv(); err != nil || n != DefaultLimit {
		t.Errorf("unset: %d, %v", n, err)
	}
	t.Setenv(LimitEnv, "700M")
	if n, err := LimitFromEnv(); err != nil || n != 700<<20 {
		t.Errorf("700M: %d, %v", n, err)
	}
	t.Setenv(LimitEnv, "lots")
	if _, err := LimitFromEnv(); err == nil {
		t.Error("bad value accepted")
	}
}

func TestKeyDistinguishesParts(t *testing.T) {
	if Key("k", "ab", "c") == Key("k", "a", "bc") {
		t.Error("parts are not separated")
	}
	if Key("k", "x") == Key("j", "x") {
		t.Error("kind is not in the key")
	}
	if a, b := Key("k", "x"), Key("k", "x"); a != b {
		t.Error("key is not deterministic")
	}
}

// TestPruneLRU fills a cache written by an earlier "build", then prunes
// from a new one: the least recently used go first, and what the running
// build used stays even when the limit cannot be met without it.
func TestPruneLRU(t *testing.T) {
	root := t.TempDir()
	clock := time.Unix(1_000_000, 0)
	old := Open(root)
	old.now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	blob := bytes.Repeat([]byte("x"), 100)
	for _, name := range []string{"a", "b", "c", "d"} {
		if err := old.Put("seg", name, blob); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := old.Dir("tree")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "t1", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "t1", "sub", "f"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	old.Use(filepath.Join(dir, "t1"))
	old.Get("seg", "a") // a is now the newest

	cur := Open(root)
	cur.now = old.now
	if _, ok := cur.Get("seg", "c"); !ok { // the running build uses c
		t.Fatal("c missing")
	}
	info, err := cur.Info()
	if err != nil || len(info) != 2 || info[0].Size != 400 || info[1].Size != 100 {
		t.Fatalf("info %+v, %v", info, err)
	}
	freed, err := cur.Prune(250)
	if err != nil {
		t.Fatal(err)
	}
	if freed != 300 {
		t.Errorf("freed %d, want 300 (b, d, t1)", freed)
	}
	left, _ := cur.Entries()
	var names []string
	for _, e := range left {
		names = append(names, e.Kind+"/"+e.Name)
	}
	if len(names) != 2 || names[0] != "seg/a" || names[1] != "seg/c" {
		t.Errorf("left %v, want [seg/a seg/c]", names)
	}
	if _, err := cur.Prune(0); err != nil {
		t.Fatal(err)
	}
	if _, ok := cur.Get("seg", "c"); !ok {
		t.Error("prune removed an entry the running build uses")
	}
	if freed, err := cur.Clean(); err != nil || freed != 100 {
		t.Errorf("clean freed %d, %v", freed, err)
	}
	if e, _ := cur.Entries(); len(e) != 0 {
		t.Errorf("clean left %v", e)
	}
}

func TestPruneRemovesAbandonedTemps(t *testing.T) {
	root := t.TempDir()
	c := Open(root)
	dir, _ := c.Dir("debs")
	young := filepath.Join(dir, ".download-young")
	stale := filepath.Join(dir, ".download-stale")
	for _, p := range []string{young, stale} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * tempGrace)
	os.Chtimes(stale, past, past)
	if _, err := c.Prune(DefaultLimit); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Error("a young temp file (a build in progress) was removed")
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("an abandoned temp file was kept")
	}
}

// TestPruneWaitsForOtherBuilds: while another build holds the cache,
// pruning and cleaning leave it alone; once it is done, they run.
func TestPruneWaitsForOtherBuilds(t *testing.T) {
	root := t.TempDir()
	other := Open(root)
	if err := other.Acquire(); err != nil {
		t.Fatal(err)
	}
	if err := other.Put("seg", "theirs", []byte("in use elsewhere")); err != nil {
		t.Fatal(err)
	}
	me := Open(root)
	if err := me.Acquire(); err != nil {
		t.Fatal(err)
	}
	defer me.Release()
	if _, err := me.Prune(0); err != ErrBusy {
		t.Fatalf("prune beside a running build: %v, want ErrBusy", err)
	}
	if _, err := me.Clean(); err != ErrBusy {
		t.Fatalf("clean beside a running build: %v, want ErrBusy", err)
	}
	if _, err := os.Stat(filepath.Join(root, "seg", "theirs")); err != nil {
		t.Fatal("the other build's entry is gone")
	}
	other.Release()
	if freed, err := me.Prune(0); err != nil || freed == 0 {
		t.Fatalf("prune after the other build ended: freed %d, %v", freed, err)
	}
}

// TestStore checks streamed entries: published whole on success, absent
// (and no temp file left) when the writer fails, counted by Info, and
// refused for names that are not one path element.
func TestStore(t *testing.T) {
	c := Open(t.TempDir())
	if _, ok := c.Lookup("debs", "a.deb"); ok {
		t.Fatal("Lookup found an entry never stored")
	}
	p, err := c.Store("debs", "a.deb", func(w io.Writer) error { _, err := io.WriteString(w, "whole"); return err })
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Lookup("debs", "a.deb"); !ok || got != p {
		t.Fatalf("Lookup = %q, %v; want %q", got, ok, p)
	}
	if b, _ := os.ReadFile(p); string(b) != "whole" {
		t.Errorf("stored %q", b)
	}
	failed := errors.New("hash mismatch")
	if _, err := c.Store("debs", "b.deb", func(w io.Writer) error { io.WriteString(w, "half"); return failed }); !errors.Is(err, failed) {
		t.Fatalf("Store with a failing writer = %v, want its error", err)
	}
	if _, ok := c.Lookup("debs", "b.deb"); ok {
		t.Error("a failed Store left an entry")
	}
	if items, _ := os.ReadDir(filepath.Join(c.Root(), "debs")); len(items) != 1 {
		t.Errorf("debs/ holds %d files after one good and one failed Store, want 1", len(items))
	}
	if u, err := c.Info(); err != nil || len(u) != 1 || u[0].Kind != "debs" || u[0].Entries != 1 || u[0].Size != 5 {
		t.Errorf("Info = %+v, %v", u, err)
	}
	for _, name := range []string{"", "../x", "a/b", ".hidden"} {
		if _, err := c.Store("debs", name, func(io.Writer) error { return nil }); err == nil {
			t.Errorf("Store(%q) stored", name)
		}
	}
}
