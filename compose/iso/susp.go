package iso

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// System Use Sharing Protocol (SUSP 1.12) and Rock Ridge (RRIP 1.10,
// "RRIP_1991A") entries. Only what the tree needs: SP and ER on the root,
// PX (permissions), TF (times), NM (names), SL (symlinks), and CE when a
// record's entries do not fit its 255 bytes.

const (
	rrExtID   = "RRIP_1991A"
	rrExtDesc = "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS"
	rrExtSrc  = "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION."

	// maxSLPart bounds one SL component record so an SL entry always fits
	// in 255 bytes; maxNMPart does the same for NM.
	maxSLPart = 248
	maxNMPart = 250
)

// Mode bits as Rock Ridge PX stores them (POSIX st_mode).
const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
)

func both16(v uint16) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint16(b, v)
	binary.BigEndian.PutUint16(b[2:], v)
	return b
}

func both32b(v uint32) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
	return b
}

func suspEntry(sig string, data ...[]byte) []byte {
	n := 4
	for _, d := range data {
		n += len(d)
	}
	e := make([]byte, 4, n)
	copy(e, sig)
	e[2], e[3] = byte(n), 1
	for _, d := range data {
		e = append(e, d...)
	}
	return e
}

// spEntry marks the root's "." record as using SUSP, with no skipped bytes.
func spEntry() []byte { return suspEntry("SP", []byte{0xBE, 0xEF, 0}) }

// erEntry announces Rock Ridge; it goes into the root's continuation area.
func erEntry() []byte {
	return suspEntry("ER", []byte{byte(len(rrExtID)), byte(len(rrExtDesc)), byte(len(rrExtSrc)), 1},
		[]byte(rrExtID), []byte(rrExtDesc), []byte(rrExtSrc))
}

// pxEntry is the 36-byte RRIP 1.10 form (no serial number): owner 0:0.
func pxEntry(mode, nlink uint32) []byte {
	return suspEntry("PX", both32b(mode), both32b(nlink), both32b(0), both32b(0))
}

// tfEntry records modification, access and attribute-change times, all
// the one fixed timestamp, in the 7-byte form.
func tfEntry(date []byte) []byte {
	return suspEntry("TF", []byte{0x0E}, date, date, date)
}

func ceEntry(lba uint32, off, n int) []byte {
	return suspEntry("CE", both32b(lba), both32b(uint32(off)), both32b(uint32(n)))
}

// nmEntries encodes a name as NM entries, continued (flag 1) when it is
// longer than one entry holds.
func nmEntries(name string) []byte {
	var out []byte
	for len(name) > maxNMPart {
		out = append(out, suspEntry("NM", []byte{1}, []byte(name[:maxNMPart]))...)
		name = name[maxNMPart:]
	}
	return append(out, suspEntry("NM", []byte{0}, []byte(name))...)
}

// slEntries encodes a relative symlink target as one or more SL entries,
// splitting long components (component flag 1) and long targets (entry
// flag 1) so each entry stays under 255 bytes.
func slEntries(target string) ([]byte, error) {
	if strings.HasPrefix(target, "/") {
		return nil, fmt.Errorf("symlink target %q: absolute targets are not stored", target)
	}
	var comps [][]byte
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "":
			continue // "a//b" and a trailing "/" mean the same as without
		case ".":
			comps = append(comps, []byte{0x02, 0})
		case "..":
			comps = append(comps, []byte{0x04, 0})
		default:
			for len(c) > maxSLPart {
				comps = append(comps, append([]byte{0x01, maxSLPart}, c[:maxSLPart]...))
				c = c[maxSLPart:]
			}
			comps = append(comps, append([]byte{0, byte(len(c))}, c...))
		}
	}
	if len(comps) == 0 {
		return nil, fmt.Errorf("symlink target %q: empty", target)
	}
	var out, cur []byte
	flush := func(more bool) {
		flag := byte(0)
		if more {
			flag = 1
		}
		out = append(out, suspEntry("SL", []byte{flag}, cur)...)
		cur = nil
	}
	for _, c := range comps {
		if 5+len(cur)+len(c) > 255 {
			flush(true)
		}
		cur = append(cur, c...)
	}
	flush(false)
	return out, nil
}
