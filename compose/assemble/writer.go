package assemble

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/tinyboot/tinyboot/compose/esp"
	"github.com/tinyboot/tinyboot/compose/plan"
	"github.com/tinyboot/tinyboot/internal/fsutil"
)

// Parts are the assembled pieces every output is written from.
type Parts struct {
	// Initramfs is the concatenated, compressed initramfs.
	Initramfs []byte
	// ESP is the FAT image holding the UKI at BootPath.
	ESP []byte
	// BootPath is the UKI's path in the ESP, the architecture's
	// removable-media path.
	BootPath string
	// App, when set, is the app's binary to put on the ISO's filesystem
	// at AppISOPath (app.run_from: iso) rather than in the initramfs.
	App, AppISOPath string

	uki     []byte
	ukiSize int64
}

// UKI returns the (transformed) UKI: the bytes just built, or those read
// back from a cached ESP.
func (p *Parts) UKI() ([]byte, error) {
	if p.uki != nil {
		return p.uki, nil
	}
	fat, err := esp.Open(bytes.NewReader(p.ESP))
	if err != nil {
		return nil, fmt.Errorf("read the UKI back from the ESP: %w", err)
	}
	b, err := fat.ReadFile(p.BootPath)
	if err != nil {
		return nil, fmt.Errorf("read the UKI back from the ESP: %w", err)
	}
	p.uki = b
	return b, nil
}

// UKISize is the UKI's size without reading it back.
func (p *Parts) UKISize() int64 { return p.ukiSize }

// Writer writes one output format from the assembled parts.
type Writer interface {
	// Write writes the output to dst, a fresh file the assembler renames
	// into place once Write has returned without error. work is a scratch
	// directory on the same file system. It returns how many bytes of the
	// output are the user's payload.
	Write(ctx context.Context, parts *Parts, dst, work string) (payload int64, err error)
}

// writerFactories maps each plan.Output format to its writer. Adding an
// output format is adding a writer and its line here.
var writerFactories = map[string]func(p *plan.Plan) Writer{
	plan.FormatISO:           newISOWriter,
	plan.FormatUKI:           func(*plan.Plan) Writer { return ukiWriter{} },
	plan.FormatKernel:        func(*plan.Plan) Writer { return kernelWriter{} },
	plan.FormatRaw:           newRawWriter,
	plan.FormatGCE:           newGCEWriter,
	plan.FormatContainerDisk: newContainerDiskWriter,
}

// dirWriter is a Writer whose output is a directory: dst is a fresh,
// empty directory the assembler puts in place of the output as a whole.
type dirWriter interface {
	Writer
	dirOutput()
}

// Formats lists the output formats this assembler writes, sorted.
func Formats() []string {
	var fs []string
	for f := range writerFactories {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	return fs
}

func newWriter(p *plan.Plan, o plan.Output) (Writer, error) {
	f, ok := writerFactories[o.Format]
	if !ok {
		return nil, fmt.Errorf("output %s: unknown format %q (known: %v)", o.Path, o.Format, Formats())
	}
	return f(p), nil
}

// Written is one output as written.
type Written struct {
	Format string `json:"format"`
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Payload is how many of its bytes are the user's files.
	Payload int64 `json:"payload"`
}

// writeOutput runs w into a locked temp file (or, for a directory
// format, a temp directory) beside out and puts it in place only when it
// is complete, so a failed or interrupted build leaves the previous
// output. It returns what was written: the file, or each file of the
// directory.
func writeOutput(ctx context.Context, w Writer, format string, parts *Parts, out, work string) ([]Written, error) {
	if dw, ok := w.(dirWriter); ok {
		return writeDirOutput(ctx, dw, format, parts, out, work)
	}
	f, err := createTemp(out)
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	payload, err := w.Write(ctx, parts, f.Name(), work)
	if err != nil {
		return nil, outputError(out, err)
	}
	res, err := written(format, f.Name(), out, payload)
	if err != nil {
		return nil, err
	}
	if err := commit(f, out); err != nil {
		return nil, outputError(out, err)
	}
	done = true
	return []Written{*res}, nil
}

// written describes the finished file tmp that becomes out.
func written(format, tmp, out string, payload int64) (*Written, error) {
	fi, err := os.Stat(tmp)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", out, err)
	}
	res := &Written{Format: format, Path: out, Size: fi.Size(), Payload: payload}
	if res.SHA256, err = fsutil.SHA256File(tmp); err != nil {
		return nil, fmt.Errorf("read back %s: %w", out, err)
	}
	return res, nil
}

// writeDirOutput writes a directory format into a temp directory beside
// out, then swaps it in: the old directory is moved aside, the new one
// renamed into place, the old one removed. A crash in between leaves the
// old directory under its temp name, which the next build removes.
func writeDirOutput(ctx context.Context, w dirWriter, format string, parts *Parts, out, work string) ([]Written, error) {
	if fi, err := os.Lstat(out); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("output %s is a file, but the %s format writes a directory there; remove it or choose another -o", out, format)
	}
	tmp, lock, err := createWorkDir(out)
	if err != nil {
		return nil, err
	}
	defer func() {
		lock.Close()
		os.RemoveAll(tmp)
	}()
	// The directory keeps its .lock while it is written, so another
	// build's cleanup leaves it alone; the lock goes just before the swap.
	lockPath := filepath.Join(tmp, ".lock")
	if _, err := w.Write(ctx, parts, tmp, work); err != nil {
		return nil, outputError(out, err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil, err
	}
	var res []Written
	for _, e := range entries {
		if e.Name() == filepath.Base(lockPath) {
			continue
		}
		name := filepath.Join(tmp, e.Name())
		r, err := written(format, name, filepath.Join(out, e.Name()), 0)
		if err != nil {
			return nil, err
		}
		res = append(res, *r)
		if err := syncFile(name); err != nil {
			return nil, outputError(out, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := os.Remove(lockPath); err != nil {
		return nil, err
	}
	old := ""
	if _, err := os.Lstat(out); err == nil {
		old = tmp + ".old"
		if err := os.Rename(out, old); err != nil {
			return nil, fmt.Errorf("write %s: %w", out, err)
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		if old != "" {
			os.Rename(old, out)
		}
		return nil, fmt.Errorf("write %s: %w", out, err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		d.Sync()
		d.Close()
	}
	return res, nil
}

func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
