package iso

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"
)

// GPT geometry. The hybrid layout always uses 512-byte logical blocks and a
// full 128-entry array, as xorriso does: that is what firmware and USB
// sticks expect, and 1 + 1 + 32 LBAs fit inside the 64-LBA ISO system area.
const (
	lbaSize        = 512
	gptEntries     = 128
	gptEntrySize   = 128
	gptEntryLBAs   = gptEntries * gptEntrySize / lbaSize // 32
	gptHeaderSize  = 92
	gptRevision    = 0x00010000
	gptSignature   = "EFI PART"
	mbrTypeGPTProt = 0xEE
)

// mbrPartition mirrors one 16-byte MBR partition record.
type mbrPartition struct {
	Status   uint8
	CHSFirst [3]byte
	Type     uint8
	CHSLast  [3]byte
	FirstLBA uint32
	Sectors  uint32
}

// protectiveMBR mirrors the 512-byte master boot record at LBA 0.
type protectiveMBR struct {
	Bootstrap  [440]byte
	DiskSig    uint32
	Reserved   uint16
	Partitions [4]mbrPartition
	Signature  uint16 // 0xAA55 little-endian
}

// gptHeader mirrors the 92 meaningful bytes of a GPT header block.
type gptHeader struct {
	Signature      [8]byte
	Revision       uint32
	HeaderSize     uint32
	HeaderCRC32    uint32
	Reserved       uint32
	MyLBA          uint64
	AlternateLBA   uint64
	FirstUsableLBA uint64
	LastUsableLBA  uint64
	DiskGUID       GUID
	EntriesLBA     uint64
	NumEntries     uint32
	EntrySize      uint32
	EntriesCRC32   uint32
}

// gptEntry mirrors one 128-byte GPT partition entry.
type gptEntry struct {
	Type       GUID
	Unique     GUID
	FirstLBA   uint64
	LastLBA    uint64
	Attributes uint64
	Name       [36]uint16 // UTF-16LE, NUL padded
}

// Partition describes one GPT partition; LBAs are 512-byte blocks and
// LastLBA is inclusive, as on disk.
type Partition struct {
	Index      int // 1-based slot in the entry array
	Type       GUID
	GUID       GUID
	FirstLBA   uint64
	LastLBA    uint64
	Attributes uint64
	Name       string
}

// Offset returns the partition's start in bytes.
func (p Partition) Offset() int64 { return int64(p.FirstLBA) * lbaSize }

// Size returns the partition's length in bytes.
func (p Partition) Size() int64 { return int64(p.LastLBA-p.FirstLBA+1) * lbaSize }

// GPT is a parsed and CRC-verified GUID partition table.
type GPT struct {
	DiskGUID       GUID
	FirstUsableLBA uint64
	LastUsableLBA  uint64
	PrimaryLBA     uint64
	BackupLBA      uint64
	Partitions     []Partition // non-empty entries only
}

func encodeName(s string) [36]uint16 {
	var out [36]uint16
	copy(out[:], utf16.Encode([]rune(s)))
	return out
}

func decodeName(n [36]uint16) string {
	end := len(n)
	for i, c := range n {
		if c == 0 {
			end = i
			break
		}
	}
	return string(utf16.Decode(n[:end]))
}

func mustBinary(v any) []byte {
	var b bytes.Buffer
	// Writing fixed-size structs into a bytes.Buffer cannot fail.
	_ = binary.Write(&b, binary.LittleEndian, v)
	return b.Bytes()
}

// hybridTables holds the encoded blocks of a hybrid MBR+GPT layout.
type hybridTables struct {
	head     []byte // LBA 0 (protective MBR), LBA 1 (header), LBAs 2..33 (entries)
	tail     []byte // backup entries followed by the backup header
	tailLBA  uint64 // first LBA of tail
	totalLBA uint64
}

// buildGPT lays out a protective MBR, primary GPT at LBA 1 and backup GPT
// ending at the last LBA of a disk of totalLBA blocks.
func buildGPT(totalLBA uint64, disk GUID, parts []Partition) (*hybridTables, error) {
	if len(parts) > gptEntries {
		return nil, fmt.Errorf("build GPT: %d partitions exceed %d entries", len(parts), gptEntries)
	}
	if totalLBA < 2*(1+gptEntryLBAs)+2 {
		return nil, fmt.Errorf("build GPT: disk of %d LBAs too small", totalLBA)
	}
	backupHdr := totalLBA - 1
	backupEntries := backupHdr - gptEntryLBAs
	first, last := uint64(2+gptEntryLBAs), backupEntries-1

	var entries bytes.Buffer
	for i := 0; i < gptEntries; i++ {
		var e gptEntry
		if i < len(parts) {
			p := parts[i]
			if p.FirstLBA < first || p.LastLBA > last || p.LastLBA < p.FirstLBA {
				return nil, fmt.Errorf("build GPT: partition %d [%d,%d] outside usable [%d,%d]", i+1, p.FirstLBA, p.LastLBA, first, last)
			}
			e = gptEntry{Type: p.Type, Unique: p.GUID, FirstLBA: p.FirstLBA, LastLBA: p.LastLBA,
				Attributes: p.Attributes, Name: encodeName(p.Name)}
		}
		entries.Write(mustBinary(&e))
	}
	entriesCRC := crc32.ChecksumIEEE(entries.Bytes())

	header := func(my, alt, entriesLBA uint64) []byte {
		h := gptHeader{Revision: gptRevision, HeaderSize: gptHeaderSize, MyLBA: my, AlternateLBA: alt,
			FirstUsableLBA: first, LastUsableLBA: last, DiskGUID: disk, EntriesLBA: entriesLBA,
			NumEntries: gptEntries, EntrySize: gptEntrySize, EntriesCRC32: entriesCRC}
		copy(h.Signature[:], gptSignature)
		h.HeaderCRC32 = crc32.ChecksumIEEE(mustBinary(&h))
		blk := make([]byte, lbaSize)
		copy(blk, mustBinary(&h))
		return blk
	}

	sectors := totalLBA - 1
	if sectors > 0xFFFFFFFF {
		sectors = 0xFFFFFFFF
	}
	mbr := protectiveMBR{Signature: 0xAA55}
	mbr.Partitions[0] = mbrPartition{CHSFirst: [3]byte{0x00, 0x02, 0x00}, Type: mbrTypeGPTProt,
		CHSLast: [3]byte{0xFF, 0xFF, 0xFF}, FirstLBA: 1, Sectors: uint32(sectors)}

	t := &hybridTables{totalLBA: totalLBA, tailLBA: backupEntries}
	t.head = append(t.head, mustBinary(&mbr)...)
	t.head = append(t.head, header(1, backupHdr, 2)...)
	t.head = append(t.head, entries.Bytes()...)
	t.tail = append(t.tail, entries.Bytes()...)
	t.tail = append(t.tail, header(backupHdr, 1, backupEntries)...)
	return t, nil
}

// ReadGPT parses the GPT of a disk image of the given size (512-byte
// LBAs), verifying the protective MBR, both headers and both entry arrays
// including their CRC32s.
func ReadGPT(r io.ReaderAt, size int64) (*GPT, error) {
	if size < lbaSize*(2*(1+gptEntryLBAs)+2) || size%lbaSize != 0 {
		return nil, fmt.Errorf("read GPT: image size %d is not a plausible GPT disk", size)
	}
	totalLBA := uint64(size / lbaSize)
	blk := make([]byte, lbaSize)
	if _, err := r.ReadAt(blk, 0); err != nil {
		return nil, fmt.Errorf("read GPT: protective MBR: %w", err)
	}
	var mbr protectiveMBR
	_ = binary.Read(bytes.NewReader(blk), binary.LittleEndian, &mbr)
	if mbr.Signature != 0xAA55 {
		return nil, errors.New("read GPT: no MBR boot signature")
	}
	if mbr.Partitions[0].Type != mbrTypeGPTProt || mbr.Partitions[0].FirstLBA != 1 {
		return nil, errors.New("read GPT: MBR is not a protective MBR (type 0xEE at LBA 1)")
	}
	primary, pEntries, err := readGPTHeader(r, 1, totalLBA)
	if err != nil {
		return nil, fmt.Errorf("read GPT: primary: %w", err)
	}
	backup, bEntries, err := readGPTHeader(r, primary.AlternateLBA, totalLBA)
	if err != nil {
		return nil, fmt.Errorf("read GPT: backup: %w", err)
	}
	if backup.AlternateLBA != 1 || backup.DiskGUID != primary.DiskGUID ||
		backup.FirstUsableLBA != primary.FirstUsableLBA || backup.LastUsableLBA != primary.LastUsableLBA ||
		!bytes.Equal(pEntries, bEntries) {
		return nil, errors.New("read GPT: backup header or entries differ from primary")
	}
	g := &GPT{DiskGUID: primary.DiskGUID, FirstUsableLBA: primary.FirstUsableLBA,
		LastUsableLBA: primary.LastUsableLBA, PrimaryLBA: 1, BackupLBA: primary.AlternateLBA}
	for i := 0; i < int(primary.NumEntries); i++ {
		var e gptEntry
		_ = binary.Read(bytes.NewReader(pEntries[i*int(primary.EntrySize):]), binary.LittleEndian, &e)
		if e.Type.IsZero() {
			continue
		}
		if e.FirstLBA < g.FirstUsableLBA || e.LastLBA > g.LastUsableLBA || e.LastLBA < e.FirstLBA {
			return nil, fmt.Errorf("read GPT: partition %d [%d,%d] outside usable [%d,%d]", i+1, e.FirstLBA, e.LastLBA, g.FirstUsableLBA, g.LastUsableLBA)
		}
		g.Partitions = append(g.Partitions, Partition{Index: i + 1, Type: e.Type, GUID: e.Unique,
			FirstLBA: e.FirstLBA, LastLBA: e.LastLBA, Attributes: e.Attributes, Name: decodeName(e.Name)})
	}
	return g, nil
}

// readGPTHeader reads and checks the header at lba and returns it with its
// raw entry array.
func readGPTHeader(r io.ReaderAt, lba, totalLBA uint64) (*gptHeader, []byte, error) {
	if lba == 0 || lba >= totalLBA {
		return nil, nil, fmt.Errorf("header LBA %d outside disk of %d LBAs", lba, totalLBA)
	}
	blk := make([]byte, lbaSize)
	if _, err := r.ReadAt(blk, int64(lba)*lbaSize); err != nil {
		return nil, nil, fmt.Errorf("header at LBA %d: %w", lba, err)
	}
	var h gptHeader
	_ = binary.Read(bytes.NewReader(blk), binary.LittleEndian, &h)
	if string(h.Signature[:]) != gptSignature {
		return nil, nil, fmt.Errorf("no GPT signature at LBA %d", lba)
	}
	if h.HeaderSize != gptHeaderSize || h.MyLBA != lba {
		return nil, nil, fmt.Errorf("header at LBA %d: size %d / MyLBA %d unexpected", lba, h.HeaderSize, h.MyLBA)
	}
	want := h.HeaderCRC32
	h.HeaderCRC32 = 0
	if got := crc32.ChecksumIEEE(mustBinary(&h)); got != want {
		return nil, nil, fmt.Errorf("header at LBA %d: CRC32 %08x, want %08x", lba, got, want)
	}
	h.HeaderCRC32 = want
	if h.EntrySize < gptEntrySize || h.EntrySize%8 != 0 || h.EntrySize > 4096 || h.NumEntries == 0 || h.NumEntries > 1024 {
		return nil, nil, fmt.Errorf("header at LBA %d: unsupported entry array %d x %d", lba, h.NumEntries, h.EntrySize)
	}
	n := int64(h.NumEntries) * int64(h.EntrySize)
	if h.EntriesLBA >= totalLBA || uint64(n/lbaSize) > totalLBA-h.EntriesLBA {
		return nil, nil, fmt.Errorf("header at LBA %d: entry array outside disk", lba)
	}
	entries := make([]byte, n)
	if _, err := r.ReadAt(entries, int64(h.EntriesLBA)*lbaSize); err != nil {
		return nil, nil, fmt.Errorf("entries at LBA %d: %w", h.EntriesLBA, err)
	}
	if got := crc32.ChecksumIEEE(entries); got != h.EntriesCRC32 {
		return nil, nil, fmt.Errorf("entries at LBA %d: CRC32 %08x, want %08x", h.EntriesLBA, got, h.EntriesCRC32)
	}
	return &h, entries, nil
}
