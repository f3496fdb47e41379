package iso

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// Entry is one payload item: a host file or directory tree copied to an
// absolute path in the ISO. A directory's contents are merged into Dst
// ("/" puts them at the root).
type Entry struct {
	Src string // host path; a symlink here is followed, links inside a tree are not
	Dst string // absolute ISO path, e.g. "/EFI/BOOT" or "/"
}

// Options describes one image.
type Options struct {
	// VolumeID is the ISO9660 volume identifier: 1-32 d-characters
	// (A-Z, 0-9, _).
	VolumeID string
	// ESP is the FAT image booted by UEFI, a whole number of 2048-byte
	// sectors. It becomes the El Torito EFI boot image and GPT partition 1.
	ESP []byte
	// Files is the payload, applied in order.
	Files []Entry
	// ModTime is the single timestamp written everywhere
	// (SOURCE_DATE_EPOCH). The zero value means the Unix epoch.
	ModTime time.Time
	// WorkDir is where the temporary workspace is created; put it on the
	// same file system as the output. Empty means os.TempDir().
	WorkDir string
}

// espName is the workspace name of the ESP image. go-diskfs needs the boot
// image as a file; it is hidden from the directory tree (HideBootFile), so
// the name is never visible, but it must not collide with the payload.
const espName = "TBESP.IMG"

// Validate checks the options without touching the file system.
func (o *Options) Validate() error {
	if err := validateVolumeID(o.VolumeID); err != nil {
		return err
	}
	if len(o.ESP) == 0 || len(o.ESP)%sectorSize != 0 || int64(len(o.ESP)) > maxFileSize {
		return fmt.Errorf("ESP image: %d bytes is not a non-zero multiple of %d below 4 GiB", len(o.ESP), sectorSize)
	}
	if y := o.modTime().Year(); y < 1970 || y > 2155 {
		return fmt.Errorf("mod time %s: year outside the ISO9660 range 1970-2155", o.modTime())
	}
	for _, e := range o.Files {
		rel, err := isoRelPath(e.Dst)
		if err != nil {
			return err
		}
		if rel == espName {
			return fmt.Errorf("destination %q: reserved for the ESP image", e.Dst)
		}
		if e.Src == "" {
			return fmt.Errorf("destination %q: empty source path", e.Dst)
		}
	}
	return nil
}

func (o *Options) modTime() time.Time {
	if o.ModTime.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return o.ModTime.UTC()
}

func validateVolumeID(id string) error {
	if len(id) == 0 || len(id) > 32 {
		return fmt.Errorf("volume id %q: length must be 1-32", id)
	}
	for _, c := range id {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("volume id %q: %q is not a d-character (A-Z, 0-9, _)", id, c)
		}
	}
	return nil
}

// WriteTo builds the image and streams it to w. The image is assembled in
// a temporary file under opts.WorkDir because go-diskfs and the GPT pass
// need random access.
func WriteTo(ctx context.Context, w io.Writer, opts Options) (int64, error) {
	if err := opts.Validate(); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(opts.WorkDir, ".tbiso-out-*")
	if err != nil {
		return 0, fmt.Errorf("create temporary image: %w", err)
	}
	defer os.Remove(tmp.Name())
	tmp.Close()
	if err := Write(ctx, tmp.Name(), opts); err != nil {
		return 0, err
	}
	f, err := os.Open(tmp.Name())
	if err != nil {
		return 0, fmt.Errorf("open temporary image: %w", err)
	}
	defer f.Close()
	n, err := io.Copy(w, f)
	if err != nil {
		return n, fmt.Errorf("copy image: %w", err)
	}
	return n, nil
}

// Write builds the image at out, creating or truncating it. On error out
// may hold a partial image; the caller is expected to write to a temporary
// name and rename.
//
// The payload is copied (streamed) into a workspace under opts.WorkDir,
// normalised, and turned into ISO9660 + Rock Ridge by go-diskfs, then
// post-processed into the hybrid layout. Workarounds for go-diskfs v1.9.4:
// no Joliet tree (its Joliet subdirectory records are wrong), directories
// deeper than 8 levels are written as-is rather than relocated (its
// relocation is unreadable), timestamps and owners are patched after the
// fact, and directories whose 8.3 name collisions go-diskfs would resolve
// nondeterministically are refused.
func Write(ctx context.Context, out string, opts Options) (err error) {
	if err := opts.Validate(); err != nil {
		return err
	}
	mt := opts.modTime()
	tmpDir, err := os.MkdirTemp(opts.WorkDir, ".tbiso-ws-*")
	if err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	defer func() {
		if rerr := removeWorkspace(tmpDir); rerr != nil && err == nil {
			err = rerr
		}
	}()
	// go-diskfs deletes its workspace when finalising; keep it one level
	// down so our own cleanup owns tmpDir.
	ws := filepath.Join(tmpDir, "root")
	if err := os.Mkdir(ws, 0o755); err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	if err := checkNotInside(tmpDir, opts.Files); err != nil {
		return err
	}
	if err := populate(ctx, ws, opts.Files); err != nil {
		return err
	}
	if err := writeESP(filepath.Join(ws, espName), opts.ESP); err != nil {
		return err
	}
	if err := checkShortNames(ws); err != nil {
		return err
	}
	if err := normaliseTree(ws, mt); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", out, cerr)
		}
	}()
	fsys, err := iso9660.Create(file.New(f, false), 0, 0, sectorSize, ws)
	if err != nil {
		return fmt.Errorf("create ISO9660: %w", err)
	}
	err = fsys.Finalize(iso9660.FinalizeOptions{
		RockRidge: true,
		// go-diskfs v1.9.4's Rock Ridge relocation of directories deeper
		// than 8 levels produces trees that neither xorriso nor go-diskfs
		// itself can read back (the reader panics). Deep directories are
		// a widely supported relaxation (Linux isofs, libisofs) and kernel
		// module paths need 10 levels.
		DeepDirectories: true,
		// No Joliet: go-diskfs v1.9.4 writes the Joliet tree's
		// subdirectory records with the primary tree's extents and sizes,
		// so any Joliet reader descending into a directory sees the
		// ISO9660 records decoded as UCS-2. Rock Ridge carries full names
		// for Linux and the firmware only reads the ESP.
		Joliet:           false,
		VolumeIdentifier: opts.VolumeID,
		ElTorito: &iso9660.ElTorito{
			// Hidden: go-diskfs stamps the catalog's directory record with
			// time.Now(), and nothing needs to see it as a file.
			HideBootCatalog: true,
			Entries: []*iso9660.ElToritoEntry{{
				Platform:     iso9660.EFI,
				Emulation:    iso9660.NoEmulation,
				BootFile:     "/" + espName,
				HideBootFile: true,
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("finalise ISO9660: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return makeHybrid(f, opts.ESP, mt)
}

// makeHybrid post-processes a finalised ISO in f: normalises times and
// owners, trims it to the volume size, and adds the protective MBR, the
// primary GPT (system area) and the backup GPT (appended).
func makeHybrid(f *os.File, esp []byte, mt time.Time) error {
	vol, err := volumeSize(f)
	if err != nil {
		return err
	}
	// go-diskfs pads each file's last sector with a write that can run one
	// sector past the volume; cut the file back to exactly the volume.
	isoSize := int64(vol) * sectorSize
	if err := f.Truncate(isoSize); err != nil {
		return fmt.Errorf("truncate to volume size: %w", err)
	}
	if err := normaliseImage(f, mt); err != nil {
		return fmt.Errorf("normalise image: %w", err)
	}
	cat, err := ReadBootCatalog(f)
	if err != nil {
		return err
	}
	if len(cat.Entries) != 1 || cat.Entries[0].Platform != PlatformEFI {
		return fmt.Errorf("boot catalog: unexpected entries %+v", cat.Entries)
	}
	espLBA := cat.Entries[0].LBA
	got := make([]byte, len(esp))
	if _, err := f.ReadAt(got, int64(espLBA)*sectorSize); err != nil {
		return fmt.Errorf("read back ESP at sector %d: %w", espLBA, err)
	}
	if !bytes.Equal(got, esp) {
		return fmt.Errorf("ESP at sector %d does not match the input image", espLBA)
	}

	// GUIDs come from the whole normalised ISO so any content change gives
	// new GUIDs, and identical inputs give identical ones.
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, isoSize)); err != nil {
		return fmt.Errorf("hash image: %w", err)
	}
	digest := h.Sum(nil)

	// Backup GPT needs 1+32 LBAs; round the tail up to whole 2048-byte
	// sectors so the image stays a multiple of 2048 and the backup header
	// lands in the very last 512-byte LBA.
	const lbasPerSector = sectorSize / lbaSize
	tailLBAs := uint64(1+gptEntryLBAs+lbasPerSector-1) / lbasPerSector * lbasPerSector
	total := uint64(vol)*lbasPerSector + tailLBAs
	first := uint64(espLBA) * lbasPerSector
	parts := []Partition{{
		Index:    1,
		Type:     TypeEFISystem,
		GUID:     derivedGUID(digest, "esp"),
		FirstLBA: first,
		LastLBA:  first + uint64(len(esp))/lbaSize - 1,
		Name:     "EFI System",
	}}
	t, err := buildGPT(total, derivedGUID(digest, "disk"), parts)
	if err != nil {
		return err
	}
	if len(t.head) > 16*sectorSize {
		return errors.New("GPT does not fit the ISO system area")
	}
	if err := f.Truncate(int64(total) * lbaSize); err != nil {
		return fmt.Errorf("extend for backup GPT: %w", err)
	}
	if _, err := f.WriteAt(t.head, 0); err != nil {
		return fmt.Errorf("write MBR and primary GPT: %w", err)
	}
	if _, err := f.WriteAt(t.tail, int64(t.tailLBA)*lbaSize); err != nil {
		return fmt.Errorf("write backup GPT: %w", err)
	}
	return nil
}

// checkNotInside refuses a workspace inside a payload tree: copying the
// tree would then copy the workspace into itself without end.
func checkNotInside(ws string, files []Entry) error {
	wsAbs, err := filepath.Abs(ws)
	if err != nil {
		return fmt.Errorf("workspace path: %w", err)
	}
	if real, err := filepath.EvalSymlinks(wsAbs); err == nil {
		wsAbs = real
	}
	for _, e := range files {
		src, err := filepath.Abs(e.Src)
		if err != nil {
			return fmt.Errorf("payload %s: %w", e.Src, err)
		}
		if real, err := filepath.EvalSymlinks(src); err == nil {
			src = real
		}
		if rel, err := filepath.Rel(src, wsAbs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return fmt.Errorf("payload %s contains the work dir %s; put the work dir elsewhere", e.Src, ws)
		}
	}
	return nil
}

// writeESP places the ESP image in the workspace; O_EXCL turns a payload
// file that happens to use the reserved name into an error instead of a
// silently replaced (and hidden) file.
func writeESP(p string, esp []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("payload uses /%s, a name reserved for the ESP image", espName)
		}
		return fmt.Errorf("write ESP image to workspace: %w", err)
	}
	if _, err := f.Write(esp); err != nil {
		f.Close()
		return fmt.Errorf("write ESP image to workspace: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write ESP image to workspace: %w", err)
	}
	return nil
}
