package assemble

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tinyboot/tinyboot/compose/iso"
	"github.com/tinyboot/tinyboot/compose/plan"
)

// isoWriter writes the hybrid ISO: the ESP as El Torito EFI boot image and
// GPT partition, and the payload as ISO9660 files.
type isoWriter struct {
	volumeID string
	payload  []plan.PayloadEntry
	epoch    time.Time
}

func newISOWriter(p *plan.Plan) Writer {
	return &isoWriter{volumeID: p.VolumeID, payload: p.Payload, epoch: p.Epoch}
}

// Write checks every payload tree before any of the image is written, so
// that an error can name the spec entry, then writes the ISO.
func (w *isoWriter) Write(ctx context.Context, parts *Parts, dst, work string) (int64, error) {
	var files []iso.Entry
	var payload int64
	for _, e := range w.payload {
		n, err := treeSize(e.Path)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", e.Origin, err)
		}
		payload += n
		files = append(files, iso.Entry{Src: e.Path, Dst: e.Dst})
	}
	err := iso.Write(ctx, dst, iso.Options{
		VolumeID: w.volumeID,
		ESP:      parts.ESP,
		Files:    files,
		ModTime:  w.epoch,
		WorkDir:  work,
	})
	if err != nil {
		return 0, fmt.Errorf("ISO: %w", err)
	}
	return payload, nil
}

// outputError adds what to do to a failure to write the image when the
// cause is one the user can fix: a full disk or quota.
func outputError(out string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("write %s: %w; free some space in %s (the image and its scratch files live there while building), or %s", out, err, filepath.Dir(out), outputFix)
	}
	return err
}

// treeSize adds up the regular files below root without following links,
// and refuses what an ISO cannot hold (pipes, sockets, devices) before any
// of the image is written, so the error can name the spec entry.
func treeSize(root string) (int64, error) {
	var n int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s vanished while the image was being built: %w; make sure nothing removes it during the build", p, err)
			}
			return fmt.Errorf("%w; make it readable", err)
		}
		switch t := d.Type(); {
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		case t.IsDir(), t&fs.ModeSymlink != 0:
		default:
			what := "special file"
			switch {
			case t&fs.ModeNamedPipe != 0:
				what = "named pipe"
			case t&fs.ModeSocket != 0:
				what = "socket"
			case t&fs.ModeDevice != 0:
				what = "device"
			}
			return fmt.Errorf("%s is a %s; files entries can hold only regular files, directories and symlinks: remove it or copy its contents into a regular file", p, what)
		}
		return nil
	})
	return n, err
}
