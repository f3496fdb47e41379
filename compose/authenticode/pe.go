// Package authenticode signs and verifies PE images (UEFI executables such
// as a UKI) the way UEFI Secure Boot checks them: an Authenticode
// signature, that is a PKCS#7 SignedData over an SpcIndirectDataContent
// holding the image's SHA-256 Authenticode hash, stored as a
// WIN_CERTIFICATE in the image's certificate table.
//
// Signatures carry no signing time, so signing the same image with the
// same key gives the same bytes (RSA PKCS#1 v1.5 is deterministic).
package authenticode

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sort"
)

const (
	peSignatureSize = 4
	fileHeaderSize  = 20
	magicPE32       = 0x10b
	magicPE32Plus   = 0x20b
	// checksumOff is CheckSum's offset within the optional header, the
	// same for PE32 and PE32+.
	checksumOff = 64
	// dataDirSecurity is the index of the certificate table among the
	// data directories.
	dataDirSecurity = 4
	sectionHdrSize  = 40
)

// layout is where the parts of a PE image that Authenticode treats
// specially lie in the file.
type layout struct {
	checksumOff int   // file offset of the optional header's CheckSum
	secDirOff   int   // file offset of the certificate table's data directory entry
	headersEnd  int   // SizeOfHeaders
	sections    []raw // sections with raw data, in file order
	certOff     int64 // certificate table file offset (0: none)
	certSize    int64 // certificate table size
}

// raw is one section's data in the file.
type raw struct{ off, size int64 }

// parse finds the layout of the PE image b.
func parse(b []byte) (*layout, error) {
	if len(b) < 0x40 || b[0] != 'M' || b[1] != 'Z' {
		return nil, errors.New("not a PE image: missing MZ signature")
	}
	peOff := int(binary.LittleEndian.Uint32(b[0x3c:]))
	if peOff < 0x40 || peOff+peSignatureSize+fileHeaderSize > len(b) || string(b[peOff:peOff+4]) != "PE\x00\x00" {
		return nil, errors.New("not a PE image: missing PE signature")
	}
	fh := b[peOff+peSignatureSize:]
	nsec := int(binary.LittleEndian.Uint16(fh[2:]))
	ohSize := int(binary.LittleEndian.Uint16(fh[16:]))
	ohOff := peOff + peSignatureSize + fileHeaderSize
	if ohOff+ohSize > len(b) || ohSize < 2 {
		return nil, errors.New("PE optional header runs past the end of the file")
	}
	oh := b[ohOff : ohOff+ohSize]
	var dirs int // offset of the data directories within the optional header
	switch m := binary.LittleEndian.Uint16(oh); m {
	case magicPE32:
		dirs = 96
	case magicPE32Plus:
		dirs = 112
	default:
		return nil, fmt.Errorf("unknown PE optional header magic %#x", m)
	}
	if ohSize < dirs {
		return nil, fmt.Errorf("PE optional header is %d bytes, too short", ohSize)
	}
	ndirs := int(binary.LittleEndian.Uint32(oh[dirs-4:]))
	if ndirs <= dataDirSecurity || dirs+(dataDirSecurity+1)*8 > ohSize {
		return nil, errors.New("PE image has no certificate table directory entry to sign into")
	}
	l := &layout{
		checksumOff: ohOff + checksumOff,
		secDirOff:   ohOff + dirs + dataDirSecurity*8,
		headersEnd:  int(binary.LittleEndian.Uint32(oh[60:])),
	}
	l.certOff = int64(binary.LittleEndian.Uint32(b[l.secDirOff:]))
	l.certSize = int64(binary.LittleEndian.Uint32(b[l.secDirOff+4:]))
	tableOff := ohOff + ohSize
	if tableOff+nsec*sectionHdrSize > len(b) || l.headersEnd < tableOff+nsec*sectionHdrSize || l.headersEnd > len(b) {
		return nil, errors.New("PE section table or SizeOfHeaders runs past the end of the file")
	}
	for i := range nsec {
		sh := b[tableOff+i*sectionHdrSize:]
		size := int64(binary.LittleEndian.Uint32(sh[16:]))
		off := int64(binary.LittleEndian.Uint32(sh[20:]))
		if size == 0 {
			continue
		}
		if off+size > int64(len(b)) {
			return nil, fmt.Errorf("PE section %d runs past the end of the file", i)
		}
		l.sections = append(l.sections, raw{off, size})
	}
	sort.SliceStable(l.sections, func(i, j int) bool { return l.sections[i].off < l.sections[j].off })
	if l.certSize != 0 && (l.certOff < int64(l.headersEnd) || l.certOff+l.certSize != int64(len(b))) {
		return nil, fmt.Errorf("PE certificate table at %#x (+%#x) is not at the end of the %d-byte file", l.certOff, l.certSize, len(b))
	}
	return l, nil
}

// imageHash is the Authenticode hash of the image b with layout l: the
// headers without CheckSum and the certificate table entry, the sections
// in file order, then any data after them up to the certificate table.
func (l *layout) imageHash(b []byte, h hash.Hash) []byte {
	h.Write(b[:l.checksumOff])
	h.Write(b[l.checksumOff+4 : l.secDirOff])
	h.Write(b[l.secDirOff+8 : l.headersEnd])
	hashed := int64(l.headersEnd)
	for _, s := range l.sections {
		h.Write(b[s.off : s.off+s.size])
		hashed += s.size
	}
	end := int64(len(b))
	if l.certSize != 0 {
		end = l.certOff
	}
	if end > hashed {
		// Trailing data, as the PE/COFF spec and EDK2 count it: the bytes
		// past the sum of sizes hashed, up to the certificate table.
		h.Write(b[hashed:end])
	}
	return h.Sum(nil)
}

// Digest returns the SHA-256 Authenticode hash of the PE image b, the
// value a signature over b must carry (the same whether b is signed yet
// or not).
func Digest(b []byte) ([]byte, error) {
	l, err := parse(b)
	if err != nil {
		return nil, err
	}
	return l.imageHash(b, sha256.New()), nil
}

// peChecksum returns the PE image checksum of b, with the CheckSum field
// at off taken as zero.
func peChecksum(b []byte, off int) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		if i == off || i == off+2 {
			continue
		}
		s += uint32(binary.LittleEndian.Uint16(b[i:]))
		s = s&0xffff + s>>16
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1])
		s = s&0xffff + s>>16
	}
	s = s&0xffff + s>>16
	return s + uint32(len(b))
}
