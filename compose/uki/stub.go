// Package uki assembles Unified Kernel Images: the systemd UEFI stub with the
// kernel, initrd, command line and os-release appended as PE sections, the
// way ukify/objcopy do, but in pure Go and streaming.
//
// The on-disk PE structures are the ones debug/pe already mirrors
// (pe.FileHeader, pe.OptionalHeader64, pe.SectionHeader32); they are read
// and written with encoding/binary.
package uki

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	dosHeaderSize     = 0x40
	peSignatureSize   = 4
	fileHeaderSize    = 20  // binary.Size(pe.FileHeader{})
	optHeader64Fixed  = 112 // PE32+ optional header without data directories
	optHeader64Full   = 240 // binary.Size(pe.OptionalHeader64{})
	sectionHeaderSize = 40  // binary.Size(pe.SectionHeader32{})
	checksumOffset    = 64  // CheckSum within the optional header
	magicPE32Plus     = 0x20b

	// dataDirSecurity is the certificate table: it is addressed by file
	// offset, sits after all sections, and signs the unmodified file.
	dataDirSecurity = 4
)

// stub is a parsed UEFI stub: its headers decoded, and the bytes we keep.
type stub struct {
	// head is the stub up to the end of its last section's raw data; the
	// COFF symbol table and anything else after the sections is dropped,
	// since nothing in a UEFI image refers to it and our sections go there.
	head []byte

	peOff      int // offset of the "PE\0\0" signature
	fh         pe.FileHeader
	oh         pe.OptionalHeader64
	ohSize     int // SizeOfOptionalHeader as found on disk
	tableOff   int // file offset of the section table
	sections   []pe.SectionHeader32
	firstRaw   int    // lowest PointerToRawData of a section with data
	virtualEnd uint32 // highest VirtualAddress+size over all sections
}

// parseStub decodes the headers of a PE32+ stub and checks it is something
// we know how to extend.
func parseStub(b []byte) (*stub, error) {
	if len(b) < dosHeaderSize || b[0] != 'M' || b[1] != 'Z' {
		return nil, errors.New("stub is not a PE image: missing MZ signature")
	}
	peOff := int(binary.LittleEndian.Uint32(b[0x3c:]))
	if peOff < dosHeaderSize || peOff > len(b)-peSignatureSize-fileHeaderSize {
		return nil, fmt.Errorf("stub is not a PE image: PE header offset %#x out of range", peOff)
	}
	if peOff%4 != 0 {
		// Loaders expect it aligned, and the checksum sums aligned words.
		return nil, fmt.Errorf("stub PE header offset %#x is not 4-byte aligned", peOff)
	}
	if !bytes.Equal(b[peOff:peOff+4], []byte("PE\x00\x00")) {
		return nil, errors.New("stub is not a PE image: missing PE signature")
	}
	s := &stub{peOff: peOff}
	if err := binary.Read(bytes.NewReader(b[peOff+4:]), binary.LittleEndian, &s.fh); err != nil {
		return nil, fmt.Errorf("read COFF file header: %w", err)
	}
	// Only machines tinyboot builds for: PE readers refuse machines they
	// do not know, so a UKI for any other would not even read back.
	if m := s.fh.Machine; m != pe.IMAGE_FILE_MACHINE_AMD64 && m != pe.IMAGE_FILE_MACHINE_ARM64 {
		return nil, fmt.Errorf("stub is for PE machine %#x; tinyboot builds UKIs for x86-64 (%#x) and arm64 (%#x)", m, pe.IMAGE_FILE_MACHINE_AMD64, pe.IMAGE_FILE_MACHINE_ARM64)
	}
	s.ohSize = int(s.fh.SizeOfOptionalHeader)
	ohOff := peOff + peSignatureSize + fileHeaderSize
	if s.ohSize < optHeader64Fixed || ohOff+s.ohSize > len(b) {
		return nil, fmt.Errorf("stub optional header size %d is invalid", s.ohSize)
	}
	// A PE32+ header with fewer than 16 data directories is shorter than
	// pe.OptionalHeader64: decode from a zero-padded copy.
	ohBuf := make([]byte, max(optHeader64Full, s.ohSize))
	copy(ohBuf, b[ohOff:ohOff+s.ohSize])
	if err := binary.Read(bytes.NewReader(ohBuf), binary.LittleEndian, &s.oh); err != nil {
		return nil, fmt.Errorf("read optional header: %w", err)
	}
	if s.oh.Magic != magicPE32Plus {
		return nil, fmt.Errorf("stub is not a PE32+ image (optional header magic %#x)", s.oh.Magic)
	}
	// The optional header holds exactly the data directories it declares:
	// PE readers (Go's debug/pe among them) refuse an image where the two
	// disagree, so an image made from such a stub would not read back.
	if (s.ohSize-optHeader64Fixed)%8 != 0 || int(s.oh.NumberOfRvaAndSizes) != (s.ohSize-optHeader64Fixed)/8 {
		return nil, fmt.Errorf("stub declares %d data directories but its optional header holds %d bytes of them (%d directories)",
			s.oh.NumberOfRvaAndSizes, s.ohSize-optHeader64Fixed, (s.ohSize-optHeader64Fixed)/8)
	}
	// The PE spec bounds FileAlignment to 512..64K; enforcing it also keeps
	// a hostile stub from making us write gigabytes of padding.
	fa := s.oh.FileAlignment
	if !isPow2(fa) || fa < 512 || fa > 64<<10 || !isPow2(s.oh.SectionAlignment) {
		return nil, fmt.Errorf("stub has invalid alignment (file %#x, section %#x)",
			s.oh.FileAlignment, s.oh.SectionAlignment)
	}

	s.tableOff = ohOff + s.ohSize
	n := int(s.fh.NumberOfSections)
	if s.tableOff+n*sectionHeaderSize > len(b) {
		return nil, fmt.Errorf("stub section table (%d entries) runs past the end of the file", n)
	}
	s.sections = make([]pe.SectionHeader32, n)
	if err := binary.Read(bytes.NewReader(b[s.tableOff:]), binary.LittleEndian, s.sections); err != nil {
		return nil, fmt.Errorf("read section table: %w", err)
	}

	// Sections need not be listed in file or address order, so take the
	// extremes over all of them rather than looking at the last entry.
	if int(s.oh.SizeOfHeaders) < s.tableOff+n*sectionHeaderSize || int(s.oh.SizeOfHeaders) > len(b) {
		return nil, fmt.Errorf("stub SizeOfHeaders %#x is inconsistent with its section table", s.oh.SizeOfHeaders)
	}
	rawEnd := int(s.oh.SizeOfHeaders)
	s.firstRaw = int(s.oh.SizeOfHeaders)
	for _, sh := range s.sections {
		// Image files carry no COFF relocations (the PE spec: zero for
		// executables); a stub that claims some is not one we can trust to
		// extend, and readers follow the pointer.
		if sh.NumberOfRelocations != 0 || sh.PointerToRelocations != 0 {
			return nil, fmt.Errorf("stub section %q has COFF relocations, which an image file never has", sectionName(sh.Name))
		}
		if sh.SizeOfRawData > 0 {
			end := int64(sh.PointerToRawData) + int64(sh.SizeOfRawData)
			if end > int64(len(b)) {
				return nil, fmt.Errorf("stub section %q raw data runs past the end of the file", sectionName(sh.Name))
			}
			rawEnd = max(rawEnd, int(end))
			s.firstRaw = min(s.firstRaw, int(sh.PointerToRawData))
		}
		vend := uint64(sh.VirtualAddress) + uint64(max(sh.VirtualSize, sh.SizeOfRawData))
		if vend > 0xffffffff {
			return nil, fmt.Errorf("stub section %q lies beyond the 4 GiB address space", sectionName(sh.Name))
		}
		s.virtualEnd = max(s.virtualEnd, uint32(vend))
	}
	s.head = b[:rawEnd]
	return s, nil
}

// sectionName returns a section header's name without its NUL padding.
func sectionName(n [8]uint8) string {
	if i := bytes.IndexByte(n[:], 0); i >= 0 {
		return string(n[:i])
	}
	return string(n[:])
}

func isPow2(v uint32) bool { return v != 0 && v&(v-1) == 0 }

// alignUp rounds v up to a multiple of a, which must be a power of two.
func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }
