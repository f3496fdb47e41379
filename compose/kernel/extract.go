package kernel

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/tinyboot/tinyboot/compose/deb"
)

func openDeb(p string) (*deb.Package, *os.File, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	pkg, err := deb.Open(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return pkg, f, nil
}

// controlOf returns a .deb's package name and version.
func controlOf(p string) (name, version string, err error) {
	pkg, f, err := openDeb(p)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	c, err := pkg.Control()
	if err != nil {
		return "", "", err
	}
	return c.Package, c.Version, nil
}

// keep says whether a data.tar member belongs to the kernel: its image
// and its module tree. Documentation, config and System.map are skipped.
func keep(name string) bool {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	switch {
	case strings.HasPrefix(name, "boot/vmlinuz"):
		return true
	case strings.HasPrefix(name, "lib/modules/"), strings.HasPrefix(name, "usr/lib/modules/"):
		return true
	}
	return false
}

// extractKernelParts streams the .deb's data.tar into dst, writing only
// what keep selects. Links are recreated only when they stay inside dst.
func extractKernelParts(debPath, dst string) error {
	return walkData(debPath, func(h *tar.Header, tr io.Reader) (bool, error) {
		if !keep(h.Name) {
			return false, nil
		}
		rel := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		target := filepath.Join(dst, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return false, err
			}
		case tar.TypeReg:
			if err := writeFile(target, tr, h.Size); err != nil {
				return false, fmt.Errorf("data.tar: %s: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			// Ubuntu links /lib/modules/<v>/build etc. out of the tree; only
			// links that stay inside the kernel's own files are kept.
			resolved := path.Join(path.Dir(rel), h.Linkname)
			if path.IsAbs(h.Linkname) || strings.HasPrefix(resolved, "../") || !keep(resolved) {
				return false, nil
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return false, err
			}
			os.Remove(target)
			if err := os.Symlink(h.Linkname, target); err != nil {
				return false, err
			}
		}
		return false, nil
	})
}

// walkData calls fn for each member of the .deb's data.tar, in order,
// until fn says stop or fails.
func walkData(debPath string, fn func(h *tar.Header, r io.Reader) (stop bool, err error)) error {
	pkg, f, err := openDeb(debPath)
	if err != nil {
		return err
	}
	defer f.Close()
	tr, closer, err := pkg.Data()
	if err != nil {
		return err
	}
	defer closer.Close()
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("data.tar: %w", err)
		}
		stop, err := fn(h, tr)
		if err != nil || stop {
			return err
		}
	}
}

func writeFile(target string, r io.Reader, size int64) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("short file: %d of %d bytes", n, size)
	}
	return err
}
