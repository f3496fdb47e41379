package iso

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"
)

// Entry is one payload item: a host file or directory tree placed at an
// absolute path in the ISO. A directory's contents are merged into Dst
// ("/" puts them at the root).
type Entry struct {
	Src string // host path; a symlink here is followed, links inside a tree are not
	Dst string // absolute ISO path, e.g. "/EFI/BOOT" or "/"
	// Exec marks a file entry executable (Rock Ridge mode 0555) whatever
	// its mode on the host: a program to run from the ISO.
	Exec bool
}

// Alias is an ISO9660 file whose data is not stored again: its extent is
// the byte range [Offset, Offset+Size) of the ESP image (Of empty) or of
// the payload file at ISO path Of. Offset must be a multiple of 2048, the
// sector size, since an extent starts on a sector. This lets a BIOS
// loader read the kernel and initrd as plain files while their bytes are
// the UKI's sections inside the ESP.
type Alias struct {
	Dst    string // absolute ISO path of the alias
	Of     string // "" for the ESP image, else the ISO path of a payload file
	Offset int64
	Size   int64
}

// BIOSBoot adds an El Torito no-emulation entry for PC BIOS, booting a
// payload file such as ISOLINUX's isolinux.bin.
type BIOSBoot struct {
	// BootFile is the absolute ISO path of the boot image, a payload file.
	BootFile string
	// LoadSectors is how many 512-byte sectors the BIOS loads; 0 means 4,
	// what ISOLINUX expects.
	LoadSectors uint16
	// BootInfoTable patches the 56-byte boot info table at offset 8 of the
	// boot file (ISOLINUX needs it to find itself on the disc).
	BootInfoTable bool
	// MBR is optional isohybrid MBR boot code (syslinux's isohdpfx.bin,
	// 432 bytes used) for BIOS boot from a disk or USB stick. It is placed
	// in front of the protective MBR's partition table, with the boot
	// file's 512-byte sector number at byte 432 as isohybrid does, so it
	// coexists with the GPT.
	MBR []byte
}

func (b *BIOSBoot) loadSectors() uint16 {
	if b.LoadSectors == 0 {
		return 4
	}
	return b.LoadSectors
}

// mbrCodeLen is the part of the MBR that boot code may occupy in front of
// isohybrid's boot file pointer (432-439) and the disk signature (440).
const mbrCodeLen = 432

// Options describes one image.
type Options struct {
	// VolumeID is the ISO9660 volume identifier: 1-32 d-characters
	// (A-Z, 0-9, _).
	VolumeID string
	// ESP is the FAT image booted by UEFI, a whole number of 2048-byte
	// sectors. It becomes the El Torito EFI boot image and GPT partition 1;
	// it has no name in the directory tree.
	ESP []byte
	// Files is the payload, applied in order.
	Files []Entry
	// Aliases are files whose data lies inside the ESP or a payload file.
	Aliases []Alias
	// BIOS, when set, makes the image boot on PC BIOS too.
	BIOS *BIOSBoot
	// DiskSize, when set, makes the image a disk of that many bytes (a
	// multiple of 512, no smaller than the image): the ISO volume first, then
	// a hole, and the backup GPT in the disk's last blocks, where a GPT
	// disk keeps it. Zero ends the image right after the volume.
	DiskSize int64
	// ModTime is the single timestamp written everywhere
	// (SOURCE_DATE_EPOCH). The zero value means the Unix epoch.
	ModTime time.Time
	// WorkDir is where WriteTo keeps its temporary image; put it on the
	// same file system as the output. Empty means os.TempDir(). Write
	// needs no temporary space.
	WorkDir string
}

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
		if _, err := isoRelPath(e.Dst); err != nil {
			return err
		}
		if e.Src == "" {
			return fmt.Errorf("destination %q: empty source path", e.Dst)
		}
	}
	if b := o.BIOS; b != nil {
		if _, err := isoRelPath(b.BootFile); err != nil {
			return fmt.Errorf("BIOS boot file: %w", err)
		}
		if len(b.MBR) != 0 && len(b.MBR) < mbrCodeLen {
			return fmt.Errorf("BIOS MBR boot code: %d bytes, want at least %d (isohdpfx.bin)", len(b.MBR), mbrCodeLen)
		}
	}
	if o.DiskSize < 0 || o.DiskSize%lbaSize != 0 {
		return fmt.Errorf("disk size %d: not a multiple of %d bytes", o.DiskSize, lbaSize)
	}
	return nil
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
// a temporary file under opts.WorkDir first: the GPT GUIDs are a hash of
// the whole image and go into its first sectors.
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

// Size returns the size of the image Write would write for opts with
// DiskSize unset: the ISO volume and the backup GPT after it. It plans the
// layout (stat'ing the payload) without writing anything.
func Size(ctx context.Context, opts Options) (int64, error) {
	opts.DiskSize = 0
	if err := opts.Validate(); err != nil {
		return 0, err
	}
	t, err := planTree(ctx, opts.Files, opts.Aliases)
	if err != nil {
		return 0, err
	}
	l, err := planLayout(&opts, t)
	if err != nil {
		return 0, err
	}
	tables, err := l.hybridTables(make([]byte, sha256.Size))
	if err != nil {
		return 0, err
	}
	return int64(tables.totalLBA) * lbaSize, nil
}

// Write builds the image at out, creating or truncating it. On error out
// may hold a partial image; the caller is expected to write to a temporary
// name and rename.
//
// The payload is only stat'ed while planning; each file is read once,
// while its extent is written, so memory and I/O do not grow with the
// payload's size.
func Write(ctx context.Context, out string, opts Options) (err error) {
	if err := opts.Validate(); err != nil {
		return err
	}
	t, err := planTree(ctx, opts.Files, opts.Aliases)
	if err != nil {
		return err
	}
	l, err := planLayout(&opts, t)
	if err != nil {
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
	return l.emit(ctx, f)
}

// emitter writes the image front to back, hashing what it writes and
// checking that every extent lands where the layout put it.
type emitter struct {
	w   *bufio.Writer
	h   hash.Hash
	pos int64
}

func (e *emitter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	e.h.Write(p[:n])
	e.pos += int64(n)
	return n, err
}

func (e *emitter) at(lba uint32, what string) error {
	if e.pos != int64(lba)*sectorSize {
		return fmt.Errorf("internal error: %s at byte %d, planned for sector %d", what, e.pos, lba)
	}
	return nil
}

func (e *emitter) pad() error {
	if r := e.pos % sectorSize; r != 0 {
		_, err := e.Write(make([]byte, sectorSize-r))
		return err
	}
	return nil
}

// copyChunk bounds each copy step so cancellation is noticed within a
// few hundred milliseconds even while copying a multi-gigabyte file.
const copyChunk = 64 << 20

func (l *layout) emit(ctx context.Context, f *os.File) error {
	e := &emitter{w: bufio.NewWriterSize(f, 1<<20), h: sha256.New()}
	fail := func(err error) error { return fmt.Errorf("write image: %w", err) }
	// The system area is zeros while hashing; the MBR and GPT, which
	// depend on the hash, are written over it at the end.
	if _, err := e.Write(make([]byte, firstVDSector*sectorSize)); err != nil {
		return fail(err)
	}
	meta := [][]byte{l.volumeDescriptors(), l.bootCatalog(),
		l.pathTable(binary.LittleEndian), l.pathTable(binary.BigEndian)}
	for _, b := range meta {
		if _, err := e.Write(b); err != nil {
			return fail(err)
		}
	}
	for _, d := range l.dirs {
		if err := e.at(d.lba, "directory "+d.isoPath()); err != nil {
			return err
		}
		b, err := l.dirExtent(d)
		if err != nil {
			return err
		}
		if _, err := e.Write(b); err != nil {
			return fail(err)
		}
	}
	if err := e.at(l.ceLBA, "continuation areas"); err != nil {
		return err
	}
	if _, err := e.Write(l.ce); err != nil {
		return fail(err)
	}
	if err := e.at(l.espLBA, "ESP image"); err != nil {
		return err
	}
	if _, err := e.Write(l.opts.ESP); err != nil {
		return fail(err)
	}
	for _, n := range l.files {
		if n.size == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := e.at(n.lba, n.isoPath()); err != nil {
			return err
		}
		if err := l.copyFile(ctx, e, n); err != nil {
			return err
		}
		if err := e.pad(); err != nil {
			return fail(err)
		}
	}
	if err := e.at(l.volume, "end of volume"); err != nil {
		return err
	}
	digest := e.h.Sum(nil)
	tables, err := l.hybridTables(digest)
	if err != nil {
		return err
	}
	if err := e.w.Flush(); err != nil {
		return fail(err)
	}
	// The backup GPT goes at its place; a disk's free space in between is
	// left a hole.
	if _, err := f.WriteAt(tables.tail, int64(tables.tailLBA)*lbaSize); err != nil {
		return fail(err)
	}
	if _, err := f.WriteAt(tables.head, 0); err != nil {
		return fmt.Errorf("write MBR and primary GPT: %w", err)
	}
	return nil
}

// copyFile streams one payload file into its extent. The file must still
// be the regular file of the size planned.
func (l *layout) copyFile(ctx context.Context, e *emitter, n *node) error {
	in, err := os.OpenFile(n.src, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", n.src, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", n.src, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != n.size {
		return fmt.Errorf("payload %s changed while the image was written (now %s, %d bytes; planned %d)", n.src, fi.Mode().Type(), fi.Size(), n.size)
	}
	if n.bootInfo {
		b := make([]byte, n.size)
		if _, err := io.ReadFull(in, b); err != nil {
			return fmt.Errorf("read BIOS boot file %s: %w", n.src, err)
		}
		patchBootInfo(b, n.lba)
		if _, err := e.Write(b); err != nil {
			return fmt.Errorf("write image: %w", err)
		}
		return nil
	}
	for left := n.size; left > 0; {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := io.CopyN(e, in, min(left, copyChunk))
		left -= c
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("payload %s shrank while the image was written", n.src)
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", n.src, err)
		}
	}
	return nil
}

// hybridTables lays out the protective MBR, the primary GPT (system area)
// and the backup GPT (after the volume), with one EFI System partition
// covering exactly the ESP image, so the same bytes boot from a disk.
func (l *layout) hybridTables(digest []byte) (*hybridTables, error) {
	// Backup GPT needs 1+32 LBAs; round the tail up to whole 2048-byte
	// sectors so the image stays a multiple of 2048 and the backup header
	// lands in the very last 512-byte LBA.
	const lbasPerSector = sectorSize / lbaSize
	tailLBAs := uint64(1+gptEntryLBAs+lbasPerSector-1) / lbasPerSector * lbasPerSector
	total := uint64(l.volume)*lbasPerSector + tailLBAs
	if d := uint64(l.opts.DiskSize) / lbaSize; d > 0 {
		if d < total {
			return nil, fmt.Errorf("disk size %d bytes: the image needs at least %d", l.opts.DiskSize, total*lbaSize)
		}
		total = d
	}
	first := uint64(l.espLBA) * lbasPerSector
	parts := []Partition{{
		Index:    1,
		Type:     TypeEFISystem,
		GUID:     derivedGUID(digest, "esp"),
		FirstLBA: first,
		LastLBA:  first + uint64(len(l.opts.ESP))/lbaSize - 1,
		Name:     "EFI System",
	}}
	t, err := buildGPT(total, derivedGUID(digest, "disk"), parts)
	if err != nil {
		return nil, err
	}
	if len(t.head) > firstVDSector*sectorSize {
		return nil, errors.New("GPT does not fit the ISO system area")
	}
	if b := l.opts.BIOS; b != nil && len(b.MBR) > 0 {
		copy(t.head, b.MBR[:mbrCodeLen])
		binary.LittleEndian.PutUint64(t.head[mbrCodeLen:], uint64(l.boot.lba)*lbasPerSector)
	}
	return t, nil
}
