package assemble

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tempPrefix marks in-progress files and work directories beside the
// output. Each is locked (flock) by the build that owns it for as long as
// it runs; one whose lock can be taken belongs to a build that was killed,
// and the next build removes it.
const tempPrefix = ".tbcompose-"

// lockGrace is how old a work directory without its .lock file must be
// before it counts as abandoned: younger, it may belong to a build that
// has created the directory but not yet its lock.
const lockGrace = time.Minute

// createAttempts bounds how often a build makes a new temp file or work
// directory after a concurrent build's cleanup removed the one it had just
// made; each cleanup pass can take one, so a few suffice.
const createAttempts = 20

// outputFix is what a user can do about an output directory that does not
// work, appended to every such error.
const outputFix = "choose another directory with -o or the spec's output"

// checkOutputDir makes sure the image's directory exists and is a
// directory, so later failures are not reported as a missing temp file.
func checkOutputDir(out string) error {
	dir := filepath.Dir(out)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("output directory %s does not exist; create it, or %s", dir, outputFix)
	case err != nil:
		return fmt.Errorf("output directory %s: %w; %s", dir, err, outputFix)
	case !fi.IsDir():
		return fmt.Errorf("output directory %s is not a directory; %s", dir, outputFix)
	}
	return nil
}

// notWritable explains a failure to create a file in the output directory.
func notWritable(dir string, err error) error {
	return fmt.Errorf("output directory %s is not writable: %w; %s", dir, err, outputFix)
}

// createTemp makes the file an image is written into before it is renamed
// over out, so the previous image survives a failed or interrupted build.
func createTemp(out string) (*os.File, error) {
	if err := checkOutputDir(out); err != nil {
		return nil, err
	}
	dir := filepath.Dir(out)
	removeStaleTemps(dir)
	// A concurrent build's cleanup may take the lock between our create
	// and our flock and remove the file; then the file we hold is no
	// longer the one at its name, and we make another.
	for range createAttempts {
		f, err := os.CreateTemp(dir, tempPrefix+filepath.Base(out)+"-*")
		if err != nil {
			return nil, notWritable(dir, err)
		}
		// The lock lives as long as the descriptor, so it ends with the
		// process. Blocking is brief: only a cleanup can hold it.
		if err := lockFile(f); err == nil && stillAt(f, f.Name()) {
			return f, nil
		}
		f.Close()
		os.Remove(f.Name())
	}
	return nil, fmt.Errorf("output directory %s: temp files keep vanishing; is another program cleaning it?", dir)
}

// createWorkDir makes a scratch directory beside out, locked like a temp
// file through a .lock file inside it. The caller removes it and closes the
// returned lock. It also removes what killed builds left, so that they are
// cleaned up even when this build fails before writing the image.
func createWorkDir(out string) (string, *os.File, error) {
	if err := checkOutputDir(out); err != nil {
		return "", nil, err
	}
	parent := filepath.Dir(out)
	removeStaleTemps(parent)
	for range createAttempts {
		dir, err := os.MkdirTemp(parent, tempPrefix+"work-*")
		if err != nil {
			return "", nil, notWritable(parent, err)
		}
		lockPath := filepath.Join(dir, ".lock")
		lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			if lockFile(lock) == nil && stillAt(lock, lockPath) {
				return dir, lock, nil
			}
			lock.Close()
		}
		os.RemoveAll(dir)
	}
	return "", nil, fmt.Errorf("output directory %s: work directories keep vanishing; is another program cleaning it?", parent)
}

// stillAt reports whether f is still the file named path.
func stillAt(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
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
		if e.IsDir() {
			removeIfAbandoned(p, filepath.Join(p, ".lock"))
		} else {
			removeIfAbandoned(p, p)
		}
	}
}

// removeIfAbandoned removes p when no live build holds the lock on
// lockPath. The lock is held while removing, so that the owner, should it
// be just starting, sees its file gone once it gets the lock, and starts
// over.
func removeIfAbandoned(p, lockPath string) {
	f, err := os.Open(lockPath)
	if errors.Is(err, fs.ErrNotExist) {
		// A work directory without its lock: killed between creating the
		// two, or a live build in that same instant; only age tells.
		if fi, err := os.Lstat(p); err == nil && time.Since(fi.ModTime()) > lockGrace {
			os.RemoveAll(p)
		}
		return
	}
	if err != nil {
		return
	}
	defer f.Close()
	if tryLockFile(f) == nil {
		os.RemoveAll(p)
	}
}

// commit makes the finished temp file the output: synced, then renamed, so
// a crash leaves either the old image or the new one, never a mix.
func commit(f *os.File, out string) error {
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
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
