package iso

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// El Torito platform IDs.
const (
	PlatformBIOS uint8 = 0x00
	PlatformEFI  uint8 = 0xEF
)

const (
	catHeaderValidation = 0x01
	catBootable         = 0x88
	catNotBootable      = 0x00
	catSectionMore      = 0x90
	catSectionLast      = 0x91
	catEntrySize        = 32
	maxCatalogEntries   = sectorSize / catEntrySize
)

// BootCatalog is a parsed El Torito boot catalog.
type BootCatalog struct {
	LBA      uint32 // sector of the catalog itself
	Platform uint8  // platform of the validation entry (and default entry)
	ID       string // manufacturer/developer ID string
	Entries  []BootEntry
}

// BootEntry is one initial/default or section entry of a boot catalog.
type BootEntry struct {
	Platform    uint8
	Bootable    bool
	Emulation   uint8  // 0 = no emulation
	LoadSegment uint16 // 0 = default
	SystemType  uint8
	SectorCount uint16 // 512-byte virtual sectors to load; 0 = firmware decides
	LBA         uint32 // 2048-byte sector of the boot image
}

// ReadBootCatalog finds the El Torito boot record volume descriptor and
// parses the catalog it points to.
func ReadBootCatalog(r io.ReaderAt) (*BootCatalog, error) {
	vds, err := readVolumeDescriptors(r)
	if err != nil {
		return nil, fmt.Errorf("read boot catalog: %w", err)
	}
	var lba uint32
	found := false
	for _, vd := range vds {
		if vd.typ() == vdTypeBoot && string(vd.raw[7:7+len(elToritoSystemID)]) == elToritoSystemID {
			lba = binary.LittleEndian.Uint32(vd.raw[0x47:])
			found = true
			break
		}
	}
	if !found {
		return nil, errors.New("read boot catalog: no El Torito boot record")
	}
	raw := make([]byte, sectorSize)
	if _, err := r.ReadAt(raw, int64(lba)*sectorSize); err != nil {
		return nil, fmt.Errorf("read boot catalog at sector %d: %w", lba, err)
	}
	return parseBootCatalog(lba, raw)
}

func parseBootCatalog(lba uint32, raw []byte) (*BootCatalog, error) {
	v := raw[:catEntrySize]
	if v[0] != catHeaderValidation || v[0x1e] != 0x55 || v[0x1f] != 0xAA {
		return nil, fmt.Errorf("boot catalog at sector %d: bad validation entry", lba)
	}
	var sum uint16
	for i := 0; i < catEntrySize; i += 2 {
		sum += binary.LittleEndian.Uint16(v[i:])
	}
	if sum != 0 {
		return nil, fmt.Errorf("boot catalog at sector %d: validation checksum %04x != 0", lba, sum)
	}
	c := &BootCatalog{LBA: lba, Platform: v[1], ID: trimNUL(v[4:0x1c])}
	c.Entries = append(c.Entries, parseBootEntry(c.Platform, raw[catEntrySize:2*catEntrySize]))
	// Section headers follow the default entry; each is followed by its
	// entries. Bound the walk by the one sector we read.
	i := 2
	for i < maxCatalogEntries {
		h := raw[i*catEntrySize : (i+1)*catEntrySize]
		if h[0] != catSectionMore && h[0] != catSectionLast {
			break
		}
		n := int(binary.LittleEndian.Uint16(h[2:]))
		i++
		for j := 0; j < n && i < maxCatalogEntries; j++ {
			c.Entries = append(c.Entries, parseBootEntry(h[1], raw[i*catEntrySize:(i+1)*catEntrySize]))
			i++
		}
		if h[0] == catSectionLast {
			break
		}
	}
	return c, nil
}

func parseBootEntry(platform uint8, e []byte) BootEntry {
	return BootEntry{
		Platform:    platform,
		Bootable:    e[0] == catBootable,
		Emulation:   e[1] & 0x0f,
		LoadSegment: binary.LittleEndian.Uint16(e[2:]),
		SystemType:  e[4],
		SectorCount: binary.LittleEndian.Uint16(e[6:]),
		LBA:         binary.LittleEndian.Uint32(e[8:]),
	}
}

func trimNUL(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
