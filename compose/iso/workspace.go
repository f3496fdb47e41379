package iso

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// maxFileSize is the largest file a single ISO9660 extent can hold;
// go-diskfs does not write multi-extent files and would silently truncate
// the 32-bit size field, so larger files are refused up front.
const maxFileSize = 1<<32 - 1

// copyChunk bounds each io.CopyN call so cancellation is noticed within a
// few hundred milliseconds even while copying a multi-gigabyte file.
const copyChunk = 64 << 20

// populate materialises the payload entries under ws, the go-diskfs
// workspace directory.
func populate(ctx context.Context, ws string, entries []Entry) error {
	for _, e := range entries {
		rel, err := isoRelPath(e.Dst)
		if err != nil {
			return err
		}
		dst := filepath.Join(ws, filepath.FromSlash(rel))
		// The entry's own Src is the caller's explicit choice, so a symlink
		// there is followed; links inside a tree never are.
		fi, err := os.Stat(e.Src)
		if err != nil {
			return fmt.Errorf("payload %s: %w", e.Src, err)
		}
		switch {
		case fi.IsDir():
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("payload %s -> %s: %w", e.Src, e.Dst, err)
			}
			if err := copyTree(ctx, e.Src, dst); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if rel == "." {
				return fmt.Errorf("payload %s: a file cannot be the ISO root", e.Src)
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return fmt.Errorf("payload %s -> %s: %w", e.Src, e.Dst, err)
			}
			if err := copyFile(ctx, e.Src, dst, fi.Mode()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("payload %s: special file (%s) not supported", e.Src, fi.Mode().Type())
		}
	}
	return nil
}

// isoRelPath validates an absolute ISO destination path and returns it
// relative to the root ("." for the root itself).
func isoRelPath(dst string) (string, error) {
	if !strings.HasPrefix(dst, "/") {
		return "", fmt.Errorf("destination %q: must be an absolute ISO path", dst)
	}
	if strings.ContainsRune(dst, 0) || strings.Contains(dst, "\\") {
		return "", fmt.Errorf("destination %q: NUL or backslash not allowed", dst)
	}
	clean := path.Clean(dst)
	for _, c := range strings.Split(clean, "/") {
		if c == ".." {
			return "", fmt.Errorf("destination %q: '..' not allowed", dst)
		}
	}
	if clean == "/" {
		return ".", nil
	}
	return clean[1:], nil
}

// copyTree copies the tree at src into the existing directory dst without
// following symlinks, refusing special files and escaping links.
func copyTree(ctx context.Context, src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if rel == "." {
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			if err := os.Mkdir(target, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("mkdir %s: %w", target, err)
			}
			if fi, err := os.Lstat(target); err != nil || !fi.IsDir() {
				return fmt.Errorf("payload %s: destination %s exists and is not a directory", p, target)
			}
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("readlink %s: %w", p, err)
			}
			if err := checkLinkInside(src, rel, link); err != nil {
				return fmt.Errorf("symlink %s -> %s: %w", p, link, err)
			}
			if err := os.Symlink(link, target); err != nil {
				return fmt.Errorf("payload %s: %w", p, err)
			}
		case mode.IsRegular():
			return copyFile(ctx, p, target, mode)
		default:
			return fmt.Errorf("payload %s: special file (%s) not supported", p, mode.Type())
		}
		return nil
	})
}

// maxLinkHops bounds symlink resolution like the kernel's ELOOP limit.
const maxLinkHops = 40

// checkLinkInside resolves link (the target of the symlink at rel inside
// root) one component at a time, following intermediate symlinks only
// within root, and fails if resolution would ever leave root. A purely
// lexical check is not enough: with d -> ".", the link "d/.." is lexically
// "." but really names root's parent.
func checkLinkInside(root, rel, link string) error {
	if filepath.IsAbs(link) {
		return errors.New("absolute target resolves outside the source tree")
	}
	cur := splitComponents(filepath.Dir(rel))
	queue := splitComponents(link)
	hops := 0
	exists := true // once a component is missing, the rest is checked lexically
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case ".":
			continue
		case "..":
			if len(cur) == 0 {
				return errors.New("target resolves outside the source tree")
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, c)
		if !exists {
			continue
		}
		fi, err := os.Lstat(filepath.Join(append([]string{root}, cur...)...))
		if err != nil {
			exists = false
			continue
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if hops++; hops > maxLinkHops {
			return errors.New("too many levels of symbolic links")
		}
		next, err := os.Readlink(filepath.Join(append([]string{root}, cur...)...))
		if err != nil {
			return fmt.Errorf("readlink: %w", err)
		}
		if filepath.IsAbs(next) {
			return fmt.Errorf("via %s: absolute target resolves outside the source tree", filepath.Join(cur...))
		}
		cur = cur[:len(cur)-1]
		queue = append(splitComponents(next), queue...)
	}
	return nil
}

func splitComponents(p string) []string {
	var out []string
	for _, c := range strings.Split(filepath.ToSlash(p), "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// copyFile streams src into a new file dst; O_EXCL makes two payload
// entries that land on the same ISO path an error rather than a silent
// overwrite.
func copyFile(ctx context.Context, src, dst string, mode fs.FileMode) error {
	in, err := os.OpenFile(src, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", src, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("payload %s: special file (%s) not supported", src, fi.Mode().Type())
	}
	if fi.Size() > maxFileSize {
		return fmt.Errorf("payload %s: %d bytes exceeds the ISO9660 single-extent limit of %d", src, fi.Size(), int64(maxFileSize))
	}
	perm := fs.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("payload %s: destination %s already provided by another entry", src, dst)
		}
		return fmt.Errorf("create %s: %w", dst, err)
	}
	for {
		if err := ctx.Err(); err != nil {
			out.Close()
			return err
		}
		n, err := io.CopyN(out, in, copyChunk)
		if err == io.EOF {
			break
		}
		if err != nil {
			out.Close()
			return fmt.Errorf("copy %s: %w", src, err)
		}
		if n < copyChunk {
			break
		}
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("close %s: %w", dst, err)
	}
	return nil
}

// normaliseTree fixes modes and times in the workspace so nothing about the
// host files (umask, owner's mode bits, copy time) reaches the image:
// directories 0555, files 0444 or 0555 if any execute bit was set.
func normaliseTree(ws string, t time.Time) error {
	var paths []string
	err := filepath.WalkDir(ws, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		paths = append(paths, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			return nil
		case d.IsDir():
			return os.Chmod(p, 0o555)
		default:
			info, err := d.Info()
			if err != nil {
				return fmt.Errorf("stat %s: %w", p, err)
			}
			perm := fs.FileMode(0o444)
			if info.Mode()&0o111 != 0 {
				perm = 0o555
			}
			return os.Chmod(p, perm)
		}
	})
	if err != nil {
		return fmt.Errorf("normalise workspace: %w", err)
	}
	// Children before parents is not needed: utimensat does not touch the
	// parent's mtime.
	for _, p := range paths {
		if err := setTimesNoFollow(p, t); err != nil {
			return fmt.Errorf("set times on %s: %w", p, err)
		}
	}
	return nil
}

// removeWorkspace deletes dir even when normaliseTree made its directories
// read-only, which would stop an unprivileged RemoveAll.
func removeWorkspace(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove workspace %s: %w", dir, err)
	}
	return nil
}
