// Package containerdisk packs a tinyboot ISO as a KubeVirt containerDisk:
// an OCI image FROM scratch with one layer holding /disk/<name>.iso,
// owned by UID/GID 107 (KubeVirt's qemu user) with mode 0440. The image
// is reproducible: fixed times, content-derived digests, so the same ISO
// always gives the same manifest digest.
package containerdisk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Owner and mode KubeVirt expects of a containerDisk's disk.
const (
	OwnerID  = 107
	DiskMode = 0o440
)

// Epoch is the one timestamp the image carries.
var Epoch = time.Unix(0, 0).UTC()

// DiskPath is where the ISO lies in the image for name.
func DiskPath(name string) string { return "disk/" + name + ".iso" }

// Image builds the containerDisk of the ISO at isoPath as name for
// linux/arch (amd64 when empty).
func Image(isoPath, name, arch string) (v1.Image, error) {
	if name == "" || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("containerdisk: name %q: want a plain file name", name)
	}
	if arch == "" {
		arch = "amd64"
	}
	fi, err := os.Stat(isoPath)
	if err != nil {
		return nil, fmt.Errorf("containerdisk: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("containerdisk: %s is not a regular file", isoPath)
	}
	size := fi.Size()
	opener := func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeLayerTar(pw, isoPath, name, size)) }()
		return pr, nil
	}
	layer, err := tarball.LayerFromOpener(opener,
		tarball.WithMediaType(types.OCILayer),
		// Fixed level: the compressed bytes, and so the digest, depend on
		// it.
		tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		return nil, fmt.Errorf("containerdisk: layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: "tbcompose containerdisk", Comment: DiskPath(name)}})
	if err != nil {
		return nil, fmt.Errorf("containerdisk: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("containerdisk: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: Epoch}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("containerdisk: %w", err)
	}
	return img, nil
}

// writeLayerTar writes the layer: the disk directory and the ISO in it.
func writeLayerTar(w io.Writer, isoPath, name string, size int64) error {
	f, err := os.Open(isoPath)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(w)
	hdrs := []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "disk/", Mode: 0o555, Uid: OwnerID, Gid: OwnerID, ModTime: Epoch, Format: tar.FormatPAX},
		{Typeflag: tar.TypeReg, Name: DiskPath(name), Mode: DiskMode, Uid: OwnerID, Gid: OwnerID, Size: size, ModTime: Epoch, Format: tar.FormatPAX},
	}
	if err := tw.WriteHeader(hdrs[0]); err != nil {
		return err
	}
	if err := tw.WriteHeader(hdrs[1]); err != nil {
		return err
	}
	n, err := io.Copy(tw, f)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s changed size while packing (%d, now %d bytes)", isoPath, size, n)
	}
	return tw.Close()
}

// WriteArchive writes img as an OCI image layout archive at out
// (atomically: a temporary file renamed into place), with ref as its
// org.opencontainers.image.ref.name.
func WriteArchive(out string, img v1.Image, ref string) error {
	dir, err := os.MkdirTemp(filepath.Dir(out), ".containerdisk-*")
	if err != nil {
		return fmt.Errorf("containerdisk: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "out.tar")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("containerdisk: %w", err)
	}
	if err := Write(f, img, ref, dir); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("containerdisk: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("containerdisk: %w", err)
	}
	return nil
}

// Write writes img to w as an OCI image layout archive with ref as its
// org.opencontainers.image.ref.name, laying the layout out in a scratch
// directory below work first.
func Write(w io.Writer, img v1.Image, ref, work string) error {
	dir, err := os.MkdirTemp(work, "layout-*")
	if err != nil {
		return fmt.Errorf("containerdisk: %w", err)
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("containerdisk: layout: %w", err)
	}
	var opts []layout.Option
	if ref != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref}))
	}
	if err := p.AppendImage(img, opts...); err != nil {
		return fmt.Errorf("containerdisk: layout: %w", err)
	}
	if err := tarTree(w, dir); err != nil {
		return fmt.Errorf("containerdisk: archive: %w", err)
	}
	return nil
}

// tarTree archives root's files in name order with fixed times and owners.
func tarTree(w io.Writer, root string) error {
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	tw := tar.NewWriter(w)
	for _, p := range paths {
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: Epoch, Mode: 0o644, Typeflag: tar.TypeReg, Size: fi.Size(), Format: tar.FormatPAX}
		if fi.IsDir() {
			h.Name += "/"
			h.Mode, h.Typeflag, h.Size = 0o755, tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.IsDir() {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// ReadDisk returns the bytes of the single layer's disk file and its
// header: for tests and `tbcompose inspect`-like checks.
func ReadDisk(img v1.Image) (*tar.Header, []byte, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, err
	}
	if len(layers) != 1 {
		return nil, nil, fmt.Errorf("containerdisk: %d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, nil, fmt.Errorf("containerdisk: no disk/*.iso in the layer")
		}
		if err != nil {
			return nil, nil, err
		}
		if h.Typeflag == tar.TypeReg && strings.HasPrefix(h.Name, "disk/") {
			var b bytes.Buffer
			if _, err := io.Copy(&b, tr); err != nil {
				return nil, nil, err
			}
			return h, b.Bytes(), nil
		}
	}
}

// ReadArchive opens the image in an OCI image layout archive as
// WriteArchive writes it, unpacking the layout into a scratch directory
// below work (which the caller removes).
func ReadArchive(archive, work string) (v1.Image, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, fmt.Errorf("containerdisk: %w", err)
	}
	defer f.Close()
	dir, err := os.MkdirTemp(work, "layout-*")
	if err != nil {
		return nil, fmt.Errorf("containerdisk: %w", err)
	}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("containerdisk: %s: not an OCI layout archive: %w", archive, err)
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if !filepath.IsLocal(name) {
			return nil, fmt.Errorf("containerdisk: %s: entry %q leaves the archive", archive, h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return nil, err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, err
			}
			out, err := os.Create(p)
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, fmt.Errorf("containerdisk: %s: %w", archive, err)
			}
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("containerdisk: %s: not an OCI layout archive: %w", archive, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("containerdisk: %s: %w", archive, err)
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("containerdisk: %s: %d images in the layout, want 1", archive, len(m.Manifests))
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		return nil, fmt.Errorf("containerdisk: %s: %w", archive, err)
	}
	return img, nil
}
