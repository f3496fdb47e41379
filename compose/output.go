package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// tempPrefix marks in-progress files and work directories beside the
// output. Each is locked (flock) by the build that owns it for as long as
// it runs; one whose lock can be taken belongs to a build that was killed,
// and the next build removes it.
const tempPrefix = ".tbcompose-"

// createTemp makes the file an image is written into before it is renamed
// over out, so the previous image survives a failed or interrupted build.
func createTemp(out string) (*os.File, error) {
	dir := filepath.Dir(out)
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("output directory %s: %w (create it first)", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("output directory %s is not a directory", dir)
	}
	removeStaleTemps(dir)
	f, err := os.CreateTemp(dir, tempPrefix+filepath.Base(out)+"-*")
	if err != nil {
		return nil, fmt.Errorf("output directory %s is not writable: %w", dir, err)
	}
	// The lock lives as long as the descriptor, so it ends with the process.
	_ = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	return f, nil
}

// createWorkDir makes a scratch directory beside out, locked like a temp
// file through a .lock file inside it. The caller removes it and closes the
// returned lock.
func createWorkDir(out string) (string, *os.File, error) {
	dir, err := os.MkdirTemp(filepath.Dir(out), tempPrefix+"work-*")
	if err != nil {
		return "", nil, fmt.Errorf("output directory %s is not writable: %w", filepath.Dir(out), err)
	}
	lock, err := os.Create(filepath.Join(dir, ".lock"))
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	_ = unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	return dir, lock, nil
}

// removeStaleTemps cleans up after builds that were killed before they
// could remove their own temp files.
func removeStaleTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		lockPath := p
		if e.IsDir() {
			lockPath = filepath.Join(p, ".lock")
		}
		if abandoned(lockPath) {
			os.RemoveAll(p)
		}
	}
}

// abandoned reports whether no live build holds the lock on path.
func abandoned(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return os.IsNotExist(err)
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

// commit makes the finished temp file the output: synced, then renamed, so
// a crash leaves either the old image or the new one, never a mix.
func commit(f *os.File, out string) error {
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
