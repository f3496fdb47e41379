package iso

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// ISO9660 constants (ECMA-119) used by the post-processing pass and the
// reader.
const (
	sectorSize       = 2048
	firstVDSector    = 16
	maxVDs           = 64 // more than any sane image; bounds hostile input
	vdTypeBoot       = 0
	vdTypePrimary    = 1
	vdTypeSupplement = 2
	vdTypeTerminator = 255
	standardID       = "CD001"
	elToritoSystemID = "EL TORITO SPECIFICATION"

	// Offsets inside a primary/supplementary volume descriptor.
	vdVolumeSize   = 80
	vdRootRecord   = 156
	vdCreation     = 813
	vdModification = 830
	vdExpiration   = 847
	vdEffective    = 864

	// Offsets inside a directory record.
	drLen      = 0
	drExtent   = 2
	drDataLen  = 10
	drDate     = 18
	drFlags    = 25
	drNameLen  = 32
	drName     = 33
	drFlagDir  = 0x02
	drMinLen   = 34
	maxDirSize = 64 << 20 // refuse absurd directory extents from hostile images
)

// volumeDescriptor is one 2048-byte descriptor from the set starting at
// sector 16, with its sector number.
type volumeDescriptor struct {
	sector uint32
	raw    []byte
}

func (v volumeDescriptor) typ() byte { return v.raw[0] }

// readVolumeDescriptors returns the descriptor set up to the terminator.
func readVolumeDescriptors(r io.ReaderAt) ([]volumeDescriptor, error) {
	var vds []volumeDescriptor
	for i := 0; i < maxVDs; i++ {
		sec := uint32(firstVDSector + i)
		raw := make([]byte, sectorSize)
		if _, err := r.ReadAt(raw, int64(sec)*sectorSize); err != nil {
			return nil, fmt.Errorf("read volume descriptor at sector %d: %w", sec, err)
		}
		if string(raw[1:6]) != standardID {
			return nil, fmt.Errorf("sector %d: not an ISO9660 volume descriptor", sec)
		}
		if raw[0] == vdTypeTerminator {
			return vds, nil
		}
		vds = append(vds, volumeDescriptor{sector: sec, raw: raw})
	}
	return nil, errors.New("volume descriptor set has no terminator")
}

// decDateTime encodes the 17-byte "YYYYMMDDHHMMSScc"+offset form used in
// volume descriptors, always in UTC so the host time zone cannot leak.
func decDateTime(t time.Time) []byte {
	t = t.UTC()
	b := []byte(fmt.Sprintf("%04d%02d%02d%02d%02d%02d%02d", t.Year(), t.Month(), t.Day(),
		t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e7))
	return append(b, 0)
}

// unsetDecDateTime is the "not specified" value: sixteen '0' digits and a
// zero offset. Used for the expiration date, which go-diskfs sets to "now".
func unsetDecDateTime() []byte {
	return append([]byte("0000000000000000"), 0)
}

// recDateTime encodes the 7-byte directory-record / Rock Ridge short form.
func recDateTime(t time.Time) []byte {
	t = t.UTC()
	return []byte{byte(t.Year() - 1900), byte(t.Month()), byte(t.Day()),
		byte(t.Hour()), byte(t.Minute()), byte(t.Second()), 0}
}

func both32(b []byte) uint32 { return binary.LittleEndian.Uint32(b[0:4]) }
