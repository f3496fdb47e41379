package esp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// FS is a FAT12/16 image opened for reading, enough to take a file out of
// an ESP (tbcompose inspect reads the UKI this way) without mounting it.
type FS struct {
	r        io.ReaderAt
	bs       bootSector
	bits     int
	fat      []byte
	rootOff  int64
	dataOff  int64
	cluster  int64
	clusters uint32
}

// Open reads the boot sector and the first FAT of a FAT12/16 image.
func Open(r io.ReaderAt) (*FS, error) {
	fs := &FS{r: r}
	if err := binary.Read(io.NewSectionReader(r, 0, sectorSize), binary.LittleEndian, &fs.bs); err != nil {
		return nil, fmt.Errorf("ESP: read boot sector: %w", err)
	}
	bs := &fs.bs
	if bs.Signature != 0xaa55 || bs.BytesPerSector == 0 || bs.SectorsPerCluster == 0 || bs.NumFATs == 0 || bs.SectorsPerFAT == 0 {
		return nil, errors.New("ESP: not a FAT12/16 image (bad boot sector)")
	}
	bps := int64(bs.BytesPerSector)
	total := int64(bs.TotalSectors16)
	if total == 0 {
		total = int64(bs.TotalSectors32)
	}
	fatOff := int64(bs.ReservedSectors) * bps
	fs.rootOff = fatOff + int64(bs.NumFATs)*int64(bs.SectorsPerFAT)*bps
	rootSectors := (int64(bs.RootEntries)*dirEntrySize + bps - 1) / bps
	fs.dataOff = fs.rootOff + rootSectors*bps
	fs.cluster = int64(bs.SectorsPerCluster) * bps
	dataSectors := total - fs.dataOff/bps
	if dataSectors <= 0 {
		return nil, errors.New("ESP: boot sector describes no data area")
	}
	fs.clusters = uint32(dataSectors / int64(bs.SectorsPerCluster))
	fs.bits = 16
	if fs.clusters < 4085 {
		fs.bits = 12
	}
	fs.fat = make([]byte, int64(bs.SectorsPerFAT)*bps)
	if _, err := r.ReadAt(fs.fat, fatOff); err != nil {
		return nil, fmt.Errorf("ESP: read FAT: %w", err)
	}
	return fs, nil
}

func (fs *FS) next(c uint32) uint32 {
	if fs.bits == 12 {
		off := int(c) * 3 / 2
		if off+1 >= len(fs.fat) {
			return 0xfff
		}
		v := uint32(binary.LittleEndian.Uint16(fs.fat[off:]))
		if c&1 == 1 {
			return v >> 4
		}
		return v & 0xfff
	}
	off := int(c) * 2
	if off+1 >= len(fs.fat) {
		return 0xffff
	}
	return uint32(binary.LittleEndian.Uint16(fs.fat[off:]))
}

// chain reads a cluster chain, at most limit bytes.
func (fs *FS) chain(first uint32, limit int64) ([]byte, error) {
	var out []byte
	seen := map[uint32]bool{}
	end := uint32(0xff8)
	if fs.bits == 16 {
		end = 0xfff8
	}
	for c := first; c >= 2 && c < end && int64(len(out)) < limit; c = fs.next(c) {
		if seen[c] || c-2 >= fs.clusters {
			return nil, fmt.Errorf("ESP: bad cluster chain at %d", c)
		}
		seen[c] = true
		buf := make([]byte, fs.cluster)
		if _, err := fs.r.ReadAt(buf, fs.dataOff+int64(c-2)*fs.cluster); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("ESP: read cluster %d: %w", c, err)
		}
		out = append(out, buf...)
	}
	if int64(len(out)) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (fs *FS) entries(dir []byte) []dirEntry {
	var out []dirEntry
	for off := 0; off+dirEntrySize <= len(dir); off += dirEntrySize {
		var e dirEntry
		binary.Read(strings.NewReader(string(dir[off:off+dirEntrySize])), binary.LittleEndian, &e)
		if e.Name[0] == 0 {
			break
		}
		if e.Name[0] == 0xe5 || e.Attr&0x0f == 0x0f || e.Name[0] == '.' {
			continue
		}
		out = append(out, e)
	}
	return out
}

func entryName(e dirEntry) string {
	base := strings.TrimRight(string(e.Name[:8]), " ")
	ext := strings.TrimRight(string(e.Name[8:]), " ")
	if ext == "" {
		return base
	}
	return base + "." + ext
}

// ReadFile returns the file at a slash-separated path such as
// "EFI/BOOT/BOOTX64.EFI" (case-insensitive, 8.3 names).
func (fs *FS) ReadFile(path string) ([]byte, error) {
	e, err := fs.lookup(path)
	if err != nil {
		return nil, err
	}
	return fs.chain(uint32(e.ClusterLow), int64(e.FileSize))
}

// Extent returns where the file at path lies in the image: the byte offset
// of its data and its size. It fails unless the file's clusters follow one
// another, as Build always lays them out, since only then is the file one
// byte range of the image another format can point at.
func (fs *FS) Extent(path string) (off, size int64, err error) {
	e, err := fs.lookup(path)
	if err != nil {
		return 0, 0, err
	}
	size = int64(e.FileSize)
	first := uint32(e.ClusterLow)
	if size == 0 {
		return 0, 0, nil
	}
	n := (size + fs.cluster - 1) / fs.cluster
	if first < 2 || int64(first-2)+n > int64(fs.clusters) {
		return 0, 0, fmt.Errorf("ESP: %s: clusters outside the image", path)
	}
	for i := range uint32(n - 1) {
		if c := first + i; fs.next(c) != c+1 {
			return 0, 0, fmt.Errorf("ESP: %s is fragmented (cluster %d is not followed by %d)", path, c, c+1)
		}
	}
	return fs.dataOff + int64(first-2)*fs.cluster, size, nil
}

// lookup finds the directory entry of the regular file at path.
func (fs *FS) lookup(path string) (*dirEntry, error) {
	root := make([]byte, int64(fs.bs.RootEntries)*dirEntrySize)
	if _, err := fs.r.ReadAt(root, fs.rootOff); err != nil {
		return nil, fmt.Errorf("ESP: read root directory: %w", err)
	}
	dir := root
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, part := range parts {
		var found *dirEntry
		for _, e := range fs.entries(dir) {
			if strings.EqualFold(entryName(e), part) {
				found = &e
				break
			}
		}
		if found == nil {
			return nil, fmt.Errorf("ESP: %s: not found", path)
		}
		isDir := found.Attr&attrDirectory != 0
		last := i == len(parts)-1
		switch {
		case last && isDir:
			return nil, fmt.Errorf("ESP: %s is a directory", path)
		case last:
			return found, nil
		case !isDir:
			return nil, fmt.Errorf("ESP: %s: %s is not a directory", path, part)
		}
		var err error
		if dir, err = fs.chain(uint32(found.ClusterLow), 1<<24); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("ESP: %s: not found", path)
}
