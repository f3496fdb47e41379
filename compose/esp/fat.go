package esp

import (
	"encoding/binary"
	"time"
)

const (
	sectorSize    = 512
	dirEntrySize  = 32
	mediaFixed    = 0xf8
	attrDirectory = 0x10
	attrArchive   = 0x20
)

// bootSector is the on-disk FAT12/16 boot sector with the DOS 4.0 extended
// BIOS parameter block, field for field (512 bytes, little-endian).
type bootSector struct {
	Jump              [3]byte
	OEMName           [8]byte
	BytesPerSector    uint16
	SectorsPerCluster uint8
	ReservedSectors   uint16
	NumFATs           uint8
	RootEntries       uint16
	TotalSectors16    uint16
	Media             uint8
	SectorsPerFAT     uint16
	SectorsPerTrack   uint16
	Heads             uint16
	HiddenSectors     uint32
	TotalSectors32    uint32
	DriveNumber       uint8
	Reserved1         uint8
	BootSignature     uint8
	VolumeID          uint32
	VolumeLabel       [11]byte
	FSType            [8]byte
	BootCode          [448]byte
	Signature         uint16
}

// dirEntry is an on-disk short-name directory entry (32 bytes).
type dirEntry struct {
	Name         [11]byte // 8.3, space padded, no dot
	Attr         uint8
	NTReserved   uint8
	CreateTenths uint8 // 10 ms units past CreateTime's 2-second resolution
	CreateTime   uint16
	CreateDate   uint16
	AccessDate   uint16
	ClusterHigh  uint16 // always 0 on FAT12/16
	WriteTime    uint16
	WriteDate    uint16
	ClusterLow   uint16
	FileSize     uint32
}

// nonBootable is the boot code: a PC BIOS that tries to boot the image
// anyway gets INT 18h ("no bootable disk, try the next device"), then a halt
// loop. The image is only meant for UEFI.
var nonBootable = []byte{0xcd, 0x18, 0xeb, 0xfe}

// newBootSector returns the boot sector for a layout.
func newBootSector(l *layout, volumeID uint32) *bootSector {
	bs := &bootSector{
		Jump:              [3]byte{0xeb, 0x3c, 0x90}, // jmp to BootCode; nop
		BytesPerSector:    sectorSize,
		SectorsPerCluster: uint8(l.sectorsPerCluster),
		ReservedSectors:   uint16(l.reservedSectors),
		NumFATs:           numFATs,
		RootEntries:       uint16(l.rootEntries),
		Media:             mediaFixed,
		SectorsPerFAT:     uint16(l.fatSectors),
		// Geometry is meaningless for an image; these are mkfs.fat's
		// defaults when it has none.
		SectorsPerTrack: 32,
		Heads:           64,
		DriveNumber:     0x80,
		BootSignature:   0x29,
		VolumeID:        volumeID,
		Signature:       0xaa55,
	}
	// Microsoft's FAT spec recommends this OEM name as the one no driver
	// second-guesses.
	copy(bs.OEMName[:], "MSWIN4.1")
	// "NO NAME" means no label, so the root needs no volume label entry.
	copy(bs.VolumeLabel[:], "NO NAME    ")
	if l.fatBits == 12 {
		copy(bs.FSType[:], "FAT12   ")
	} else {
		copy(bs.FSType[:], "FAT16   ")
	}
	copy(bs.BootCode[:], nonBootable)
	if l.totalSectors <= 0xffff {
		bs.TotalSectors16 = uint16(l.totalSectors)
	} else {
		bs.TotalSectors32 = l.totalSectors
	}
	return bs
}

// encodeFAT returns one copy of the FAT for entries (entry i is cluster i's
// successor, or an end-of-chain mark), padded to fatSectors.
func encodeFAT(l *layout, entries []uint32) []byte {
	b := make([]byte, l.fatSectors*sectorSize)
	if l.fatBits == 16 {
		for i, e := range entries {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(e))
		}
		return b
	}
	// FAT12 packs two 12-bit entries into three bytes.
	for i := 0; i < len(entries); i += 2 {
		v := entries[i] & 0xfff
		if i+1 < len(entries) {
			v |= (entries[i+1] & 0xfff) << 12
		}
		o := i / 2 * 3
		b[o], b[o+1], b[o+2] = byte(v), byte(v>>8), byte(v>>16)
	}
	return b
}

// dosDateTime converts t to FAT's local-time-less date and time fields. FAT
// cannot represent times before 1980 (SOURCE_DATE_EPOCH=0 is common) or
// after 2107, so t is clamped to that range.
func dosDateTime(t time.Time) (date, tm uint16, tenths uint8) {
	t = t.UTC()
	lo := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	hi := time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)
	if t.Before(lo) {
		t = lo
	} else if t.After(hi) {
		t = hi
	}
	date = uint16(t.Year()-1980)<<9 | uint16(t.Month())<<5 | uint16(t.Day())
	tm = uint16(t.Hour())<<11 | uint16(t.Minute())<<5 | uint16(t.Second()/2)
	return date, tm, uint8(t.Second()%2*100 + t.Nanosecond()/10_000_000)
}
