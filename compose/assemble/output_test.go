package assemble

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRemoveStaleTemps checks which leftovers beside the output a build
// removes: those whose lock nobody holds, and lockless work directories
// only once they are old enough not to be a build just starting.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	mk := func(rel string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := time.Now().Add(-2 * lockGrace)
	mk(".tbcompose-a.iso-dead")
	mk(".tbcompose-work-dead/.lock")
	mk(".tbcompose-work-oldnolock/x")
	os.Chtimes(filepath.Join(dir, ".tbcompose-work-oldnolock"), old, old)
	mk(".tbcompose-work-young/x")
	mk("unrelated.iso")
	for _, rel := range []string{".tbcompose-a.iso-live", ".tbcompose-work-live/.lock"} {
		lf, err := os.Open(mk(rel))
		if err != nil {
			t.Fatal(err)
		}
		defer lf.Close()
		if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			t.Fatal(err)
		}
	}
	removeStaleTemps(dir)
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{".tbcompose-a.iso-live", ".tbcompose-work-live", ".tbcompose-work-young", "unrelated.iso"}
	if !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
}

// TestTempSurvivesCleanup runs a build's temp file and work directory
// creation against concurrent cleanups: what is returned must still be at
// its name, locked, however the two interleave.
func TestTempSurvivesCleanup(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.iso")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				removeStaleTemps(dir)
			}
		}
	}()
	for range 200 {
		f, err := createTemp(out)
		if err != nil {
			t.Fatal(err)
		}
		work, lock, err := createWorkDir(out)
		if err != nil {
			t.Fatal(err)
		}
		if !stillAt(f, f.Name()) || !stillAt(lock, filepath.Join(work, ".lock")) {
			t.Fatal("a cleanup removed a live build's temp file or work directory")
		}
		f.Close()
		os.Remove(f.Name())
		lock.Close()
		os.RemoveAll(work)
	}
	close(stop)
	<-done
}
