package assemble

import (
	"bytes"
	"context"
	"fmt"
	"os"
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
	plan.FormatISO: newISOWriter,
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

// writeOutput runs w into a locked temp file beside out and renames it
// into place only when it is complete, so a failed or interrupted build
// leaves the previous output.
func writeOutput(ctx context.Context, w Writer, format string, parts *Parts, out, work string) (*Written, error) {
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
	fi, err := os.Stat(f.Name())
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", out, err)
	}
	res := &Written{Format: format, Path: out, Size: fi.Size(), Payload: payload}
	if res.SHA256, err = fsutil.SHA256File(f.Name()); err != nil {
		return nil, fmt.Errorf("read back %s: %w", out, err)
	}
	if err := commit(f, out); err != nil {
		return nil, outputError(out, err)
	}
	done = true
	return res, nil
}
