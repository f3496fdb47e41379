// Package blkid identifies the filesystems the agent mounts by reading
// their superblocks directly.
//
// Only three are needed (iso9660 for the boot medium, btrfs and ext4 for
// the persistent volume), and each is identified by a magic number and a
// label at fixed offsets, so a few ReadAt calls replace libblkid or a
// filesystem library, neither of which belongs in every image.
package blkid

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Filesystem types Probe reports, named as mount(2) wants them.
const (
	ISO9660 = "iso9660"
	Btrfs   = "btrfs"
	Ext4    = "ext4"
	// VFAT is FAT12/16/32, which cloud-init NoCloud drives may use.
	VFAT = "vfat"
)

// On-disk offsets, from ECMA-119 8.4, the btrfs wiki "On-disk Format" and
// the ext4 "Super Block" layout.
const (
	// The ISO9660 primary volume descriptor is in logical sector 16.
	isoPVDOffset      = 16 * 2048
	isoVolumeIDOffset = isoPVDOffset + 40
	isoVolumeIDLen    = 32

	btrfsSuperOffset = 0x10000
	btrfsMagicOffset = btrfsSuperOffset + 0x40
	btrfsLabelOffset = btrfsSuperOffset + 0x12b
	btrfsLabelLen    = 256

	extSuperOffset = 0x400
	extMagicOffset = extSuperOffset + 0x38
	extLabelOffset = extSuperOffset + 0x78
	extLabelLen    = 16
)

var (
	isoMagic   = []byte("\x01CD001\x01") // type 1 (primary), id, version 1
	btrfsMagic = []byte("_BHRfS_M")
	extMagic   = []byte{0x53, 0xef} // 0xEF53 little-endian
)

// ErrUnknown means no supported filesystem signature was found.
var ErrUnknown = errors.New("no known filesystem")

// Info is what Probe found.
type Info struct {
	// Type is ISO9660, Btrfs or Ext4.
	Type string
	// Label is the ISO9660 volume identifier or the btrfs/ext4 label.
	Label string
}

// Probe identifies the filesystem on r. It returns ErrUnknown when there
// is none it knows; a device too short for a superblock is simply unknown.
func Probe(r io.ReaderAt) (Info, error) {
	if ok, err := has(r, isoPVDOffset, isoMagic); err != nil {
		return Info{}, err
	} else if ok {
		id, err := field(r, isoVolumeIDOffset, isoVolumeIDLen)
		if err != nil {
			return Info{}, err
		}
		// d-characters padded with spaces (ECMA-119 7.4.3).
		return Info{Type: ISO9660, Label: strings.TrimRight(cstr(id), " ")}, nil
	}
	if ok, err := has(r, btrfsMagicOffset, btrfsMagic); err != nil {
		return Info{}, err
	} else if ok {
		l, err := field(r, btrfsLabelOffset, btrfsLabelLen)
		if err != nil {
			return Info{}, err
		}
		return Info{Type: Btrfs, Label: cstr(l)}, nil
	}
	if ok, err := has(r, extMagicOffset, extMagic); err != nil {
		return Info{}, err
	} else if ok {
		l, err := field(r, extLabelOffset, extLabelLen)
		if err != nil {
			return Info{}, err
		}
		return Info{Type: Ext4, Label: cstr(l)}, nil
	}
	if label, ok, err := probeFAT(r); err != nil {
		return Info{}, err
	} else if ok {
		return Info{Type: VFAT, Label: label}, nil
	}
	return Info{}, ErrUnknown
}

// FAT boot sector offsets (Microsoft's FAT specification): the extended
// boot record, holding the volume label and the type string, sits at
// 0x24 on FAT12/16 and at 0x40 on FAT32.
const (
	fatBytesPerSector = 0x0b
	fat16Ext          = 0x24
	fat32Ext          = 0x40
	fatExtSig         = 0x02 // 0x29 when label and type follow
	fatExtLabel       = 0x07
	fatExtType        = 0x12
)

// probeFAT recognises a FAT boot sector and returns its label ("" when
// it has none). The boot sector signature alone is an MBR's too, so the
// sector size and the type string must also be right.
func probeFAT(r io.ReaderAt) (string, bool, error) {
	b, err := field(r, 0, 512)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if b[510] != 0x55 || b[511] != 0xaa {
		return "", false, nil
	}
	if bps := binary.LittleEndian.Uint16(b[fatBytesPerSector:]); bps < 512 || bps > 4096 || bps&(bps-1) != 0 {
		return "", false, nil
	}
	for _, ext := range []int{fat32Ext, fat16Ext} {
		if b[ext+fatExtSig] != 0x29 || !bytes.HasPrefix(b[ext+fatExtType:ext+fatExtType+8], []byte("FAT")) {
			continue
		}
		label := strings.TrimRight(string(b[ext+fatExtLabel:ext+fatExtLabel+11]), " ")
		if label == "NO NAME" {
			label = ""
		}
		return label, true, nil
	}
	return "", false, nil
}

// ProbeFile opens path read-only and probes it.
func ProbeFile(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("probe %s: %w", path, err)
	}
	defer f.Close()
	info, err := Probe(f)
	if err != nil {
		return Info{}, fmt.Errorf("probe %s: %w", path, err)
	}
	return info, nil
}

// has reports whether magic is at off; reads past the end mean "no".
func has(r io.ReaderAt, off int64, magic []byte) (bool, error) {
	b, err := field(r, off, len(magic))
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return bytes.Equal(b, magic), nil
}

func field(r io.ReaderAt, off int64, n int) ([]byte, error) {
	b := make([]byte, n)
	got, err := r.ReadAt(b, off)
	if got == n {
		return b, nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("read %d bytes at %#x: %w", n, off, err)
}

// cstr cuts b at its first NUL.
func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Put writes a minimal superblock of type typ with label into img (grown
// as needed) — enough for Probe, for tests of code that scans devices.
func Put(img []byte, typ, label string) ([]byte, error) {
	grow := func(n int) {
		if len(img) < n {
			img = append(img, make([]byte, n-len(img))...)
		}
	}
	switch typ {
	case ISO9660:
		grow(isoPVDOffset + 2048)
		copy(img[isoPVDOffset:], isoMagic)
		id := []byte(label + strings.Repeat(" ", isoVolumeIDLen))
		copy(img[isoVolumeIDOffset:isoVolumeIDOffset+isoVolumeIDLen], id)
	case Btrfs:
		grow(btrfsSuperOffset + 4096)
		copy(img[btrfsMagicOffset:], btrfsMagic)
		copy(img[btrfsLabelOffset:btrfsLabelOffset+btrfsLabelLen-1], label)
	case Ext4:
		grow(extSuperOffset + 1024)
		binary.LittleEndian.PutUint16(img[extMagicOffset:], 0xef53)
		copy(img[extLabelOffset:extLabelOffset+extLabelLen], label)
	default:
		return nil, fmt.Errorf("put: unknown type %q", typ)
	}
	return img, nil
}
