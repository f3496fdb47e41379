package iso

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Fixed sectors of the layout. Everything after the path tables is placed
// by planLayout in this order: directories, continuation areas, the ESP,
// then file data in directory order.
const (
	pvdSector        = firstVDSector
	bootRecordSector = firstVDSector + 1
	terminatorSector = firstVDSector + 2
	catalogSector    = firstVDSector + 3
	pathTableSector  = firstVDSector + 4

	maxRecordLen = 254 // records have even length and a one-byte length field
	maxDirs      = 0xFFFF
	// maxBootFile bounds the BIOS boot file, which is held in memory to
	// patch its boot info table before it is written.
	maxBootFile = 32 << 20
)

// layout is the complete plan of an image: every extent's sector, decided
// before a byte is written, so the image can be streamed front to back.
type layout struct {
	opts   *Options
	tree   *tree
	date   []byte // 7-byte record date
	dirs   []*node
	files  []*node // kindFile nodes in data order
	boot   *node   // BIOS boot file, or nil
	ptSize uint32  // bytes of one path table
	lPath  uint32
	mPath  uint32
	ceLBA  uint32
	ce     []byte // continuation areas, a whole number of sectors
	espLBA uint32
	volume uint32 // sectors in the ISO9660 volume
}

func sectors(n int64) uint32 { return uint32((n + sectorSize - 1) / sectorSize) }

// planLayout names, sorts and places everything in t.
func planLayout(opts *Options, t *tree) (*layout, error) {
	l := &layout{opts: opts, tree: t, date: recDateTime(opts.modTime())}
	// Breadth-first with sorted children gives the path table order
	// ECMA-119 requires: by level, then parent number, then name.
	queue := []*node{t.root}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if len(l.dirs) == maxDirs {
			return nil, fmt.Errorf("more than %d directories", maxDirs)
		}
		l.dirs = append(l.dirs, d)
		d.number = uint16(len(l.dirs))
		if err := assignNames(d); err != nil {
			return nil, err
		}
		for _, c := range d.sorted {
			switch c.kind {
			case kindDir:
				queue = append(queue, c)
			case kindFile:
				l.files = append(l.files, c)
			}
		}
	}
	for _, d := range l.dirs {
		l.ptSize += uint32(pathRecordLen(d))
	}
	l.lPath = pathTableSector
	l.mPath = l.lPath + sectors(int64(l.ptSize))
	next := l.mPath + sectors(int64(l.ptSize))

	// Continuation areas depend only on names and link targets, so they
	// are packed once, here; records only point at them.
	if err := l.packCE(); err != nil {
		return nil, err
	}
	for _, d := range l.dirs {
		d.lba = next
		b, err := l.dirExtent(d)
		if err != nil {
			return nil, err
		}
		d.dirSize = uint32(len(b))
		next += d.dirSize / sectorSize
	}
	l.ceLBA = next
	next += uint32(len(l.ce) / sectorSize)
	l.espLBA = next
	next += uint32(len(opts.ESP) / sectorSize)
	for _, f := range l.files {
		if f.size == 0 {
			continue // empty files own no sectors
		}
		f.lba = next
		next += sectors(f.size)
	}
	l.volume = next
	if err := l.resolveAliases(); err != nil {
		return nil, err
	}
	if b := opts.BIOS; b != nil {
		rel, err := isoRelPath(b.BootFile)
		if err != nil {
			return nil, fmt.Errorf("BIOS boot file: %w", err)
		}
		n := t.lookup(rel)
		if n == nil || n.kind != kindFile {
			return nil, fmt.Errorf("BIOS boot file %s: not a regular file of the payload", b.BootFile)
		}
		if b.BootInfoTable && (n.size < 64 || n.size > maxBootFile) {
			return nil, fmt.Errorf("BIOS boot file %s: %d bytes; a boot info table needs 64 bytes to %d", b.BootFile, n.size, maxBootFile)
		}
		if n.size == 0 {
			return nil, fmt.Errorf("BIOS boot file %s: empty", b.BootFile)
		}
		n.bootInfo = b.BootInfoTable
		l.boot = n
	}
	return l, nil
}

// resolveAliases points every alias at its target's sectors.
func (l *layout) resolveAliases() error {
	var walk func(d *node) error
	walk = func(d *node) error {
		for _, c := range d.sorted {
			switch c.kind {
			case kindDir:
				if err := walk(c); err != nil {
					return err
				}
			case kindAlias:
				a := c.alias
				base, size := l.espLBA, int64(len(l.opts.ESP))
				what := "the ESP image"
				if a.Of != "" {
					rel, err := isoRelPath(a.Of)
					if err != nil {
						return fmt.Errorf("alias %s: %w", a.Dst, err)
					}
					t := l.tree.lookup(rel)
					if t == nil || t.kind != kindFile {
						return fmt.Errorf("alias %s: %s is not a regular file of the payload", a.Dst, a.Of)
					}
					base, size, what = t.lba, t.size, a.Of
				}
				if a.Offset < 0 || a.Size < 0 || a.Offset%sectorSize != 0 || a.Offset > size || a.Size > size-a.Offset {
					return fmt.Errorf("alias %s: bytes [%d, %d) are not a %d-aligned range of %s (%d bytes)",
						a.Dst, a.Offset, a.Offset+a.Size, sectorSize, what, size)
				}
				if a.Size > 0 {
					c.lba = base + uint32(a.Offset/sectorSize)
				}
			}
		}
		return nil
	}
	return walk(l.tree.root)
}

// packCE decides which records need a continuation area and places each
// one inside a single sector of the CE region.
func (l *layout) packCE() error {
	place := func(blob []byte, what string) (int, error) {
		if len(blob) > sectorSize {
			return 0, fmt.Errorf("%s: Rock Ridge entries of %d bytes exceed one sector", what, len(blob))
		}
		if rem := sectorSize - len(l.ce)%sectorSize; len(l.ce)%sectorSize != 0 && len(blob) > rem {
			l.ce = append(l.ce, make([]byte, rem)...)
		}
		off := len(l.ce)
		l.ce = append(l.ce, blob...)
		return off, nil
	}
	er := erEntry()
	off, err := place(er, "root")
	if err != nil {
		return err
	}
	l.tree.root.dotCEOff, l.tree.root.dotCELen = off, len(er)
	for _, d := range l.dirs {
		for _, c := range d.sorted {
			inline, cont, err := l.susp(c)
			if err != nil {
				return fmt.Errorf("%s: %w", c.isoPath(), err)
			}
			if recordLen(c.isoName, len(inline)+len(cont)) <= maxRecordLen {
				continue
			}
			off, err := place(cont, c.isoPath())
			if err != nil {
				return err
			}
			c.ceOff, c.ceLen = off, len(cont)
		}
	}
	if r := len(l.ce) % sectorSize; r != 0 {
		l.ce = append(l.ce, make([]byte, sectorSize-r)...)
	}
	return nil
}

// susp returns a child record's entries: those that always stay in the
// record (PX, TF) and those that move to a continuation area when the
// record would be too long (NM, SL).
func (l *layout) susp(n *node) (inline, cont []byte, err error) {
	inline = append(pxEntry(n.mode(), n.nlink()), tfEntry(l.date)...)
	cont = nmEntries(n.name)
	if n.kind == kindSymlink {
		sl, err := slEntries(n.target)
		if err != nil {
			return nil, nil, err
		}
		cont = append(cont, sl...)
	}
	return inline, cont, nil
}

func (n *node) mode() uint32 {
	switch n.kind {
	case kindDir:
		return modeDir | 0o555
	case kindSymlink:
		return modeSymlink | 0o777
	}
	if n.exec {
		return modeFile | 0o555
	}
	return modeFile | 0o444
}

func (n *node) nlink() uint32 {
	if n.kind != kindDir {
		return 1
	}
	links := uint32(2)
	for _, c := range n.children {
		if c.kind == kindDir {
			links++
		}
	}
	return links
}

// recordLen is the length of a directory record with identifier id and
// sysLen bytes of system use, padded to even.
func recordLen(id string, sysLen int) int {
	n := drName + len(id)
	if len(id)%2 == 0 {
		n++ // padding field after an even-length identifier
	}
	n += sysLen
	return n + n%2
}

// dirExtent encodes the directory d: ".", "..", then the children, no
// record crossing a sector boundary, padded to whole sectors.
func (l *layout) dirExtent(d *node) ([]byte, error) {
	parent := d.parent
	if parent == nil {
		parent = d
	}
	var out []byte
	add := func(rec []byte) {
		if rem := sectorSize - len(out)%sectorSize; len(rec) > rem {
			out = append(out, make([]byte, rem)...)
		}
		out = append(out, rec...)
	}
	dot := pxEntry(d.mode(), d.nlink())
	dot = append(dot, tfEntry(l.date)...)
	if d.parent == nil {
		dot = append(append(spEntry(), dot...), ceEntry(l.ceLBA+uint32(d.dotCEOff/sectorSize), d.dotCEOff%sectorSize, d.dotCELen)...)
	}
	add(l.record(d, "\x00", dot))
	add(l.record(parent, "\x01", append(pxEntry(parent.mode(), parent.nlink()), tfEntry(l.date)...)))
	for _, c := range d.sorted {
		inline, cont, err := l.susp(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.isoPath(), err)
		}
		if c.ceOff >= 0 {
			inline = append(inline, ceEntry(l.ceLBA+uint32(c.ceOff/sectorSize), c.ceOff%sectorSize, c.ceLen)...)
		} else {
			inline = append(inline, cont...)
		}
		add(l.record(c, c.isoName, inline))
	}
	if r := len(out) % sectorSize; r != 0 || len(out) == 0 {
		out = append(out, make([]byte, sectorSize-r)...)
	}
	return out, nil
}

// record encodes one directory record (ECMA-119 9.1) describing n.
func (l *layout) record(n *node, id string, sys []byte) []byte {
	size := uint32(n.size)
	flags := byte(0)
	switch n.kind {
	case kindDir:
		size, flags = n.dirSize, drFlagDir
	case kindSymlink:
		size = 0
	}
	r := make([]byte, recordLen(id, len(sys)))
	r[drLen] = byte(len(r))
	copy(r[drExtent:], both32b(n.lba))
	copy(r[drDataLen:], both32b(size))
	copy(r[drDate:], l.date)
	r[drFlags] = flags
	copy(r[28:], both16(1)) // volume sequence number
	r[drNameLen] = byte(len(id))
	copy(r[drName:], id)
	sysStart := drName + len(id)
	if len(id)%2 == 0 {
		sysStart++
	}
	copy(r[sysStart:], sys)
	return r
}

func pathRecordLen(d *node) int {
	n := 8 + len(d.pathID())
	return n + n%2
}

func (d *node) pathID() string {
	if d.parent == nil {
		return "\x00"
	}
	return d.isoName
}

// pathTable encodes the L (little-endian) or M (big-endian) path table,
// padded to whole sectors.
func (l *layout) pathTable(order binary.ByteOrder) []byte {
	out := make([]byte, 0, int(sectors(int64(l.ptSize)))*sectorSize)
	for _, d := range l.dirs {
		id := d.pathID()
		rec := make([]byte, pathRecordLen(d))
		rec[0] = byte(len(id))
		order.PutUint32(rec[2:], d.lba)
		parent := uint16(1)
		if d.parent != nil {
			parent = d.parent.number
		}
		order.PutUint16(rec[6:], parent)
		copy(rec[8:], id)
		out = append(out, rec...)
	}
	return out[:cap(out)]
}

// volumeDescriptors encodes the primary volume descriptor, the El Torito
// boot record and the set terminator (sectors 16-18).
func (l *layout) volumeDescriptors() []byte {
	out := make([]byte, 3*sectorSize)
	pvd := out[:sectorSize]
	pvd[0] = vdTypePrimary
	copy(pvd[1:], standardID)
	pvd[6] = 1
	for _, f := range pvdStringFields {
		for i := f[0]; i < f[1]; i++ {
			pvd[i] = ' '
		}
	}
	copy(pvd[40:72], l.opts.VolumeID)
	copy(pvd[vdVolumeSize:], both32b(l.volume))
	copy(pvd[120:], both16(1))          // volume set size
	copy(pvd[124:], both16(1))          // volume sequence number
	copy(pvd[128:], both16(sectorSize)) // logical block size
	copy(pvd[132:], both32b(l.ptSize))
	binary.LittleEndian.PutUint32(pvd[140:], l.lPath)
	binary.BigEndian.PutUint32(pvd[148:], l.mPath)
	copy(pvd[vdRootRecord:], l.record(l.tree.root, "\x00", nil))
	t := l.opts.modTime()
	copy(pvd[vdCreation:], decDateTime(t))
	copy(pvd[vdModification:], decDateTime(t))
	copy(pvd[vdExpiration:], unsetDecDateTime())
	copy(pvd[vdEffective:], decDateTime(t))
	pvd[881] = 1 // file structure version

	br := out[sectorSize : 2*sectorSize]
	br[0] = vdTypeBoot
	copy(br[1:], standardID)
	br[6] = 1
	copy(br[7:], elToritoSystemID)
	binary.LittleEndian.PutUint32(br[0x47:], catalogSector)

	term := out[2*sectorSize:]
	term[0] = vdTypeTerminator
	copy(term[1:], standardID)
	term[6] = 1
	return out
}

// pvdStringFields are the a-/d-character fields of a primary volume
// descriptor as [start, end) offsets, space padded as ECMA-119 requires.
var pvdStringFields = [][2]int{
	{8, 40}, {40, 72}, // system, volume identifier
	{190, 318}, {318, 446}, {446, 574}, {574, 702}, // volume set, publisher, preparer, application
	{702, 739}, {739, 776}, {776, 813}, // copyright, abstract, bibliographic file
}

// bootCatalog encodes the El Torito catalog. With only the ESP it has one
// default EFI entry; with a BIOS boot file that file is the default entry
// (platform 0, what BIOSes read) and the ESP follows in a final EFI
// section, the layout xorriso and isohybrid use.
func (l *layout) bootCatalog() []byte {
	cat := make([]byte, sectorSize)
	espCount := len(l.opts.ESP) / lbaSize
	if espCount > 0xFFFF {
		espCount = 0 // too large to say; firmware takes the size from the ESP itself
	}
	entry := func(e []byte, lba uint32, count int) {
		e[0] = catBootable
		binary.LittleEndian.PutUint16(e[6:], uint16(count))
		binary.LittleEndian.PutUint32(e[8:], lba)
	}
	v := cat[:catEntrySize]
	v[0] = catHeaderValidation
	v[1] = PlatformEFI
	if l.boot != nil {
		v[1] = PlatformBIOS
	}
	v[0x1e], v[0x1f] = 0x55, 0xAA
	var sum uint16
	for i := 0; i < catEntrySize; i += 2 {
		sum += binary.LittleEndian.Uint16(v[i:])
	}
	binary.LittleEndian.PutUint16(v[0x1c:], -sum)
	if l.boot == nil {
		entry(cat[catEntrySize:], l.espLBA, espCount)
		return cat
	}
	entry(cat[catEntrySize:], l.boot.lba, int(l.opts.BIOS.loadSectors()))
	h := cat[2*catEntrySize:]
	h[0], h[1] = catSectionLast, PlatformEFI
	binary.LittleEndian.PutUint16(h[2:], 1)
	entry(cat[3*catEntrySize:], l.espLBA, espCount)
	return cat
}

// patchBootInfo fills the 56-byte boot info table at offset 8 of a BIOS
// boot file (the mkisofs -boot-info-table convention ISOLINUX relies on):
// the PVD's sector, the file's sector and length, and the 32-bit sum of
// the file's little-endian words from offset 64.
func patchBootInfo(b []byte, lba uint32) {
	var sum uint32
	for i := 64; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		sum += binary.LittleEndian.Uint32(w[:])
	}
	clear(b[8:64])
	binary.LittleEndian.PutUint32(b[8:], pvdSector)
	binary.LittleEndian.PutUint32(b[12:], lba)
	binary.LittleEndian.PutUint32(b[16:], uint32(len(b)))
	binary.LittleEndian.PutUint32(b[20:], sum)
}

// modTime returns the fixed timestamp, the Unix epoch when unset.
func (o *Options) modTime() time.Time {
	if o.ModTime.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return o.ModTime.UTC()
}
