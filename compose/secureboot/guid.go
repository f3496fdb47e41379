// Package secureboot makes UEFI Secure Boot key sets: the platform key
// (PK), key exchange key (KEK) and signature database (db) key pairs and
// certificates, their EFI signature lists, and the time-based
// authenticated variable updates (.auth files) that firmware in setup mode
// accepts, as sbctl and efitools write them.
package secureboot

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// GUID is an EFI_GUID in its on-disk byte order (the first three fields
// little-endian).
type GUID [16]byte

// MustGUID parses a constant GUID such as
// "8be4df61-93ca-11d2-aa0d-00e098032b8c"; it panics on a malformed one, so
// it is only for package-level constants.
func MustGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// ParseGUID parses the textual form of a GUID.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	parts := strings.Split(s, "-")
	if len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 || len(parts[3]) != 4 || len(parts[4]) != 12 {
		return g, fmt.Errorf("GUID %q: want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	b, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		return g, fmt.Errorf("GUID %q: %w", s, err)
	}
	binary.LittleEndian.PutUint32(g[0:], binary.BigEndian.Uint32(b[0:]))
	binary.LittleEndian.PutUint16(g[4:], binary.BigEndian.Uint16(b[4:]))
	binary.LittleEndian.PutUint16(g[6:], binary.BigEndian.Uint16(b[6:]))
	copy(g[8:], b[8:])
	return g, nil
}

func (g GUID) String() string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(g[0:]), binary.LittleEndian.Uint16(g[4:]),
		binary.LittleEndian.Uint16(g[6:]), g[8:10], g[10:])
}

// Well-known GUIDs.
var (
	// GlobalVariable owns PK, KEK, SecureBoot, SetupMode.
	GlobalVariable = MustGUID("8be4df61-93ca-11d2-aa0d-00e098032b8c")
	// ImageSecurityDatabase owns db and dbx.
	ImageSecurityDatabase = MustGUID("d719b2cb-3d3a-4596-a3bc-dad00e67656f")
	// CertX509 is the signature type of a list of X.509 certificates.
	CertX509 = MustGUID("a5c059a1-94e4-4aa7-87b5-ab155c2bf072")
	// CertTypePKCS7 marks a WIN_CERTIFICATE_UEFI_GUID holding PKCS#7.
	CertTypePKCS7 = MustGUID("4aafd29d-68df-49ee-8aa9-347d375665a7")
)

// Variable attributes (UEFI spec, SetVariable).
const (
	AttrNonVolatile        = 0x01
	AttrBootserviceAccess  = 0x02
	AttrRuntimeAccess      = 0x04
	AttrTimeBasedAuthWrite = 0x20
	// AttrsAuthenticated are the attributes of PK, KEK, db and dbx.
	AttrsAuthenticated = AttrNonVolatile | AttrBootserviceAccess | AttrRuntimeAccess | AttrTimeBasedAuthWrite
)

// UTF16 encodes a variable name (ASCII, as all UEFI names are) as
// UTF-16LE without a terminator.
func UTF16(s string) []byte {
	var b []byte
	for _, r := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(r))
	}
	return b
}
