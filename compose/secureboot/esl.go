package secureboot

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	eslHeaderSize = 28 // SignatureType, ListSize, HeaderSize, SignatureSize
	ownerSize     = 16
)

// SignatureList returns an EFI_SIGNATURE_LIST of one X.509 certificate
// (DER) owned by owner.
func SignatureList(owner GUID, certDER []byte) []byte {
	sigSize := ownerSize + len(certDER)
	b := make([]byte, 0, eslHeaderSize+sigSize)
	b = append(b, CertX509[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(eslHeaderSize+sigSize))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(sigSize))
	b = append(b, owner[:]...)
	return append(b, certDER...)
}

// Signature is one entry of an EFI signature list.
type Signature struct {
	Type  GUID
	Owner GUID
	Data  []byte
}

// ParseSignatureLists decodes concatenated EFI_SIGNATURE_LISTs.
func ParseSignatureLists(b []byte) ([]Signature, error) {
	var out []Signature
	for len(b) > 0 {
		if len(b) < eslHeaderSize {
			return nil, errors.New("signature list: truncated header")
		}
		var typ GUID
		copy(typ[:], b)
		listSize := int(binary.LittleEndian.Uint32(b[16:]))
		hdrSize := int(binary.LittleEndian.Uint32(b[20:]))
		sigSize := int(binary.LittleEndian.Uint32(b[24:]))
		if listSize < eslHeaderSize+hdrSize || listSize > len(b) || sigSize < ownerSize {
			return nil, fmt.Errorf("signature list: sizes list %d header %d signature %d are inconsistent", listSize, hdrSize, sigSize)
		}
		body := b[eslHeaderSize+hdrSize : listSize]
		if len(body)%sigSize != 0 {
			return nil, fmt.Errorf("signature list: %d bytes of signatures is not a multiple of %d", len(body), sigSize)
		}
		for ; len(body) > 0; body = body[sigSize:] {
			var s Signature
			s.Type = typ
			copy(s.Owner[:], body)
			s.Data = body[ownerSize:sigSize]
			out = append(out, s)
		}
		b = b[listSize:]
	}
	return out, nil
}
