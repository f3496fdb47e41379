package iso

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// GUID is a GPT GUID in its on-disk byte order: the first three fields are
// little-endian ("mixed-endian"), as in the UEFI specification.
type GUID [16]byte

// Well-known GPT partition type GUIDs.
var (
	// TypeEFISystem is the EFI System Partition type.
	TypeEFISystem = mustParseGUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
	// TypeBasicData is the Microsoft basic data partition type.
	TypeBasicData = mustParseGUID("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7")
)

// ParseGUID parses the canonical textual form
// XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX into on-disk order.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	parts := strings.Split(s, "-")
	if len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 ||
		len(parts[3]) != 4 || len(parts[4]) != 12 {
		return g, fmt.Errorf("parse GUID %q: want 8-4-4-4-12 hex digits", s)
	}
	raw, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		return g, fmt.Errorf("parse GUID %q: %w", s, err)
	}
	binary.LittleEndian.PutUint32(g[0:4], binary.BigEndian.Uint32(raw[0:4]))
	binary.LittleEndian.PutUint16(g[4:6], binary.BigEndian.Uint16(raw[4:6]))
	binary.LittleEndian.PutUint16(g[6:8], binary.BigEndian.Uint16(raw[6:8]))
	copy(g[8:], raw[8:])
	return g, nil
}

// mustParseGUID is ParseGUID for package-level literals only; a panic here
// is a typo in this file, never a reaction to input.
func mustParseGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// String returns the canonical upper-case textual form.
func (g GUID) String() string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X",
		binary.LittleEndian.Uint32(g[0:4]),
		binary.LittleEndian.Uint16(g[4:6]),
		binary.LittleEndian.Uint16(g[6:8]),
		g[8:10], g[10:16])
}

// TypeName returns a human name for well-known partition type GUIDs and
// the GUID text otherwise, for listings such as tbcompose inspect.
func TypeName(g GUID) string {
	switch g {
	case TypeEFISystem:
		return "EFI System"
	case TypeBasicData:
		return "Basic data"
	}
	return g.String()
}

// IsZero reports whether g is the all-zero (unused entry) GUID.
func (g GUID) IsZero() bool { return g == GUID{} }

// derivedGUID makes a stable random-looking (version 4, RFC 4122 variant)
// GUID from a content digest and a purpose label, so that the same image
// always gets the same disk and partition GUIDs while distinct images and
// distinct purposes get distinct ones.
func derivedGUID(digest []byte, label string) GUID {
	h := sha256.New()
	h.Write([]byte("tinyboot iso guid\x00" + label + "\x00"))
	h.Write(digest)
	sum := h.Sum(nil)
	var g GUID
	copy(g[:], sum[:16])
	// Version lives in the high nibble of the (little-endian) third field.
	g[7] = g[7]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g
}
