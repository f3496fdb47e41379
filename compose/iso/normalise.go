package iso

import (
	"encoding/binary"
	"fmt"
	"time"
)

// imageFile is what the post-processing pass needs from the output file.
type imageFile interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
}

// normaliseImage rewrites every timestamp and owner that go-diskfs took
// from the wall clock or the workspace. go-diskfs v1.9.4 stamps volume
// descriptors with time.Now() in the local zone, takes Rock Ridge TF
// access/attribute-change times from the workspace inodes (ctime cannot be
// set from user space) and PX uid/gid from the building user. Patching the
// finished image is the only way to make those bytes reproducible without
// forking the library; the record layout is untouched, only values change.
func normaliseImage(f imageFile, t time.Time) error {
	vds, err := readVolumeDescriptors(f)
	if err != nil {
		return err
	}
	n := &normaliser{f: f, date: recDateTime(t), visited: map[uint32]bool{}}
	for _, vd := range vds {
		if vd.typ() != vdTypePrimary && vd.typ() != vdTypeSupplement {
			continue
		}
		if vd.typ() == vdTypePrimary {
			spacePad(vd.raw)
		}
		copy(vd.raw[vdCreation:], decDateTime(t))
		copy(vd.raw[vdModification:], decDateTime(t))
		copy(vd.raw[vdExpiration:], unsetDecDateTime())
		copy(vd.raw[vdEffective:], decDateTime(t))
		root := vd.raw[vdRootRecord : vdRootRecord+drMinLen]
		copy(root[drDate:], n.date)
		if _, err := f.WriteAt(vd.raw, int64(vd.sector)*sectorSize); err != nil {
			return fmt.Errorf("patch volume descriptor %d: %w", vd.sector, err)
		}
		// Only the primary tree carries SUSP/Rock Ridge; Joliet records
		// are plain.
		if err := n.dir(both32(root[drExtent:]), both32(root[drDataLen:]), vd.typ() == vdTypePrimary); err != nil {
			return err
		}
	}
	return nil
}

type normaliser struct {
	f       imageFile
	date    []byte
	visited map[uint32]bool
}

// dir patches all records of the directory extent at lba and recurses.
func (n *normaliser) dir(lba, size uint32, susp bool) error {
	if n.visited[lba] {
		return nil
	}
	n.visited[lba] = true
	if size > maxDirSize {
		return fmt.Errorf("directory at sector %d: size %d too large", lba, size)
	}
	buf := make([]byte, (int(size)+sectorSize-1)/sectorSize*sectorSize)
	if _, err := n.f.ReadAt(buf, int64(lba)*sectorSize); err != nil {
		return fmt.Errorf("read directory at sector %d: %w", lba, err)
	}
	type sub struct{ lba, size uint32 }
	var subs []sub
	for off := 0; off < len(buf); {
		l := int(buf[off+drLen])
		if l == 0 {
			// Records never span sectors; zero means "skip to next sector".
			off = (off/sectorSize + 1) * sectorSize
			continue
		}
		if l < drMinLen || off+l > len(buf) || (off%sectorSize)+l > sectorSize {
			return fmt.Errorf("directory at sector %d: bad record at offset %d", lba, off)
		}
		rec := buf[off : off+l]
		copy(rec[drDate:], n.date)
		nameLen := int(rec[drNameLen])
		if drName+nameLen > l {
			return fmt.Errorf("directory at sector %d: bad name length at offset %d", lba, off)
		}
		isDot := nameLen == 1 && rec[drName] <= 1
		if susp {
			suStart := drName + nameLen
			if nameLen%2 == 0 {
				suStart++
			}
			if suStart < l {
				if err := n.susp(rec[suStart:], 0); err != nil {
					return fmt.Errorf("directory at sector %d offset %d: %w", lba, off, err)
				}
			}
		}
		if rec[drFlags]&drFlagDir != 0 && !isDot {
			subs = append(subs, sub{both32(rec[drExtent:]), both32(rec[drDataLen:])})
		}
		off += l
	}
	if _, err := n.f.WriteAt(buf[:size], int64(lba)*sectorSize); err != nil {
		return fmt.Errorf("patch directory at sector %d: %w", lba, err)
	}
	for _, s := range subs {
		if err := n.dir(s.lba, s.size, susp); err != nil {
			return err
		}
	}
	return nil
}

// maxCEDepth bounds continuation-area chains from hostile or buggy images.
const maxCEDepth = 16

// susp patches PX owner and TF timestamps in one System Use area (in
// place) and follows CE continuation areas on disk.
func (n *normaliser) susp(area []byte, depth int) error {
	if depth > maxCEDepth {
		return fmt.Errorf("SUSP continuation chain deeper than %d", maxCEDepth)
	}
	for off := 0; off+4 <= len(area); {
		sig := string(area[off : off+2])
		l := int(area[off+2])
		if l < 4 || off+l > len(area) {
			break
		}
		e := area[off : off+l]
		switch sig {
		case "PX":
			// mode(8) nlink(8) uid(8) gid(8) [serial(8)]: zero uid and gid.
			if l >= 36 {
				clear(e[20:36])
			}
		case "TF":
			flags := e[4]
			width := 7
			if flags&0x80 != 0 {
				width = 17
			}
			for p := 5; p+width <= l; p += width {
				if width == 7 {
					copy(e[p:], n.date)
				} else {
					return fmt.Errorf("long-form TF timestamps not expected")
				}
			}
		case "CE":
			if l >= 28 {
				blk := both32(e[4:])
				ceOff := both32(e[12:])
				ceLen := both32(e[20:])
				if ceOff+ceLen > sectorSize || ceLen == 0 {
					return fmt.Errorf("CE area offset %d length %d out of range", ceOff, ceLen)
				}
				buf := make([]byte, ceLen)
				pos := int64(blk)*sectorSize + int64(ceOff)
				if _, err := n.f.ReadAt(buf, pos); err != nil {
					return fmt.Errorf("read CE area: %w", err)
				}
				if err := n.susp(buf, depth+1); err != nil {
					return err
				}
				if _, err := n.f.WriteAt(buf, pos); err != nil {
					return fmt.Errorf("patch CE area: %w", err)
				}
			}
		case "ST":
			return nil
		}
		off += l
	}
	return nil
}

// volumeSize returns the PVD's volume space size in sectors.
func volumeSize(f imageFile) (uint32, error) {
	vds, err := readVolumeDescriptors(f)
	if err != nil {
		return 0, err
	}
	for _, vd := range vds {
		if vd.typ() == vdTypePrimary {
			return binary.LittleEndian.Uint32(vd.raw[vdVolumeSize:]), nil
		}
	}
	return 0, fmt.Errorf("no primary volume descriptor")
}

// pvdStringFields are the a-/d-character fields of a primary volume
// descriptor as [start, end) offsets.
var pvdStringFields = [][2]int{
	{8, 40}, {40, 72}, // system, volume identifier
	{190, 318}, {318, 446}, {446, 574}, {574, 702}, // volume set, publisher, preparer, application
	{702, 739}, {739, 776}, {776, 813}, // copyright, abstract, bibliographic file
}

// spacePad replaces go-diskfs's NUL padding of PVD string fields with the
// spaces ECMA-119 requires (NUL is not an a- or d-character; readers such
// as blkid would otherwise report trailing NULs in the label).
func spacePad(pvd []byte) {
	for _, f := range pvdStringFields {
		field := pvd[f[0]:f[1]]
		end := len(field)
		for end > 0 && (field[end-1] == 0 || field[end-1] == ' ') {
			end--
		}
		for i := end; i < len(field); i++ {
			field[i] = ' '
		}
	}
}
