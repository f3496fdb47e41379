package secureboot

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tinyboot/tinyboot/compose/authenticode"
)

const (
	efiTimeSize         = 16
	winCertUEFIGUIDSize = 24 // WIN_CERTIFICATE header + CertType
	winCertRevision2    = 0x0200
	winCertTypeEFIGUID  = 0x0ef1
)

// efiTime encodes t as an EFI_TIME in UTC, with Nanosecond, TimeZone and
// Daylight zero as authenticated variables require.
func efiTime(t time.Time) []byte {
	t = t.UTC()
	b := make([]byte, efiTimeSize)
	binary.LittleEndian.PutUint16(b, uint16(t.Year()))
	b[2], b[3], b[4], b[5], b[6] = byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()), byte(t.Second())
	return b
}

// parseEFITime decodes an EFI_TIME.
func parseEFITime(b []byte) time.Time {
	return time.Date(int(binary.LittleEndian.Uint16(b)), time.Month(b[2]), int(b[3]), int(b[4]), int(b[5]), int(b[6]), 0, time.UTC)
}

// Update is a time-based authenticated variable write: what SetVariable
// gets, and what an .auth file holds.
type Update struct {
	Name       string
	Vendor     GUID
	Attributes uint32
	Time       time.Time
	// Signature is the DER PKCS#7 SignedData over the signed payload.
	Signature []byte
	// Data is the variable's new value, typically signature lists.
	Data []byte
}

// signedPayload is what the signature of an authenticated write covers:
// name (UTF-16, no terminator), vendor GUID, attributes, time, data.
func (u *Update) signedPayload() []byte {
	var b bytes.Buffer
	b.Write(UTF16(u.Name))
	b.Write(u.Vendor[:])
	binary.Write(&b, binary.LittleEndian, u.Attributes)
	b.Write(efiTime(u.Time))
	b.Write(u.Data)
	return b.Bytes()
}

// SignUpdate returns the authenticated write of data to the variable
// name/vendor at time t, signed by s (the variable's parent key: PK for
// PK and KEK, KEK for db).
func SignUpdate(s *authenticode.Signer, name string, vendor GUID, data []byte, t time.Time) (*Update, error) {
	u := &Update{Name: name, Vendor: vendor, Attributes: AttrsAuthenticated, Time: t.UTC().Truncate(time.Second), Data: data}
	sig, err := s.SignDetached(u.signedPayload())
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", name, err)
	}
	u.Signature = sig
	return u, nil
}

// Marshal encodes the update as an .auth file: EFI_VARIABLE_AUTHENTICATION_2
// (time and WIN_CERTIFICATE_UEFI_GUID with the PKCS#7) followed by the data.
func (u *Update) Marshal() []byte {
	var b bytes.Buffer
	b.Write(efiTime(u.Time))
	binary.Write(&b, binary.LittleEndian, uint32(winCertUEFIGUIDSize+len(u.Signature)))
	binary.Write(&b, binary.LittleEndian, uint16(winCertRevision2))
	binary.Write(&b, binary.LittleEndian, uint16(winCertTypeEFIGUID))
	b.Write(CertTypePKCS7[:])
	b.Write(u.Signature)
	b.Write(u.Data)
	return b.Bytes()
}

// ParseAuth decodes an .auth file for the variable name/vendor.
func ParseAuth(name string, vendor GUID, b []byte) (*Update, error) {
	if len(b) < efiTimeSize+winCertUEFIGUIDSize {
		return nil, errors.New("too short for EFI_VARIABLE_AUTHENTICATION_2")
	}
	n := int(binary.LittleEndian.Uint32(b[efiTimeSize:]))
	rev := binary.LittleEndian.Uint16(b[efiTimeSize+4:])
	typ := binary.LittleEndian.Uint16(b[efiTimeSize+6:])
	var certType GUID
	copy(certType[:], b[efiTimeSize+8:])
	if rev != winCertRevision2 || typ != winCertTypeEFIGUID || certType != CertTypePKCS7 {
		return nil, fmt.Errorf("not a PKCS#7 WIN_CERTIFICATE_UEFI_GUID (revision %#x type %#x cert type %s)", rev, typ, certType)
	}
	if n < winCertUEFIGUIDSize || efiTimeSize+n > len(b) {
		return nil, fmt.Errorf("certificate length %d out of range", n)
	}
	return &Update{
		Name: name, Vendor: vendor, Attributes: AttrsAuthenticated,
		Time:      parseEFITime(b),
		Signature: b[efiTimeSize+winCertUEFIGUIDSize : efiTimeSize+n],
		Data:      b[efiTimeSize+n:],
	}, nil
}

// EFITime returns the update's time stamp as an EFI_TIME.
func (u *Update) EFITime() [16]byte {
	var t [16]byte
	copy(t[:], efiTime(u.Time))
	return t
}

// Verify checks the update's signature against a parent certificate
// (DER), as firmware does before applying it.
func (u *Update) Verify(parentDER []byte) error {
	cert, err := x509.ParseCertificate(parentDER)
	if err != nil {
		return fmt.Errorf("parent certificate: %w", err)
	}
	return authenticode.VerifyDetached(u.Signature, u.signedPayload(), cert)
}
