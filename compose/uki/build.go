package uki

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Well-known UKI section names, as read by the systemd stub.
const (
	SectionOSRel   = ".osrel"
	SectionCmdline = ".cmdline"
	SectionUname   = ".uname"
	SectionLinux   = ".linux"
	SectionInitrd  = ".initrd"
)

// sectionFlags marks appended sections as initialized, read-only data, as
// ukify does; the stub only reads them.
const sectionFlags = pe.IMAGE_SCN_CNT_INITIALIZED_DATA | pe.IMAGE_SCN_MEM_READ

// minVirtualAlign is the alignment of appended sections in memory. The 252
// stub's SectionAlignment is only 0x200; page-aligning the kernel and initrd
// costs nothing on disk and keeps them where firmware and kernel expect
// loaded data to start.
const minVirtualAlign = 0x1000

// Section is one section to append to the stub. Build reads Data twice
// (once for the PE checksum, once to write it), so it must be an
// io.ReaderAt holding at least Size bytes, such as an *os.File or
// *bytes.Reader.
type Section struct {
	Name string // PE section name, at most 8 bytes, e.g. ".linux"
	Data io.ReaderAt
	Size int64
	// FileAlign, when not 0, is a power of two the section's file offset
	// must be a multiple of, beyond the stub's FileAlignment. The padding
	// goes into the raw size of the section before it (zeros past its
	// VirtualSize), so the file stays a gapless run of sections as
	// Authenticode hashing expects. An aligned kernel and initrd can be
	// pointed at from outside the UKI: the ISO's BIOS loader reads them.
	FileAlign int64
}

// Aligned returns sec with FileAlign set to align.
func (sec Section) Aligned(align int64) Section {
	sec.FileAlign = align
	return sec
}

// Bytes returns a Section holding b.
func Bytes(name string, b []byte) Section {
	return Section{Name: name, Data: bytes.NewReader(b), Size: int64(len(b))}
}

// Build writes to w a UKI made of stub (a PE32+ UEFI stub such as systemd's
// linuxx64.efi.stub) with sections appended in the order given, and returns
// the number of bytes written. A .linux section is required; sections must
// not be empty (leave out an empty .cmdline instead). The stub's
// COFF symbol table and any certificate table are dropped: nothing at boot
// reads the former and the latter no longer matches the file.
func Build(w io.Writer, stub []byte, sections []Section) (int64, error) {
	s, err := parseStub(stub)
	if err != nil {
		return 0, err
	}
	if err := checkSections(s, sections); err != nil {
		return 0, err
	}

	oldEnd := s.tableOff + len(s.sections)*sectionHeaderSize
	newEnd := oldEnd + len(sections)*sectionHeaderSize
	if newEnd > s.firstRaw {
		room := (s.firstRaw - oldEnd) / sectionHeaderSize
		return 0, fmt.Errorf("stub header has room for %d more section headers, need %d", room, len(sections))
	}
	head := bytes.Clone(s.head)
	if !isHeaderPadding(head[oldEnd:newEnd]) {
		return 0, errors.New("stub has data right after its section table where new headers must go")
	}

	// Lay the sections out after the stub's last one, in file and in memory.
	fileAlign := uint64(s.oh.FileAlignment)
	virtAlign := uint64(max(s.oh.SectionAlignment, minVirtualAlign))
	off := alignUp(uint64(len(head)), fileAlign)
	va := alignUp(uint64(max(s.virtualEnd, s.oh.SizeOfImage)), virtAlign)
	headers := make([]pe.SectionHeader32, len(sections))
	initData := uint64(s.oh.SizeOfInitializedData)
	// File offsets first: an aligned section pads the one before it.
	for i, sec := range sections {
		if a := uint64(sec.FileAlign); a > fileAlign {
			if a&(a-1) != 0 {
				return 0, fmt.Errorf("section %s: file alignment %d is not a power of two", sec.Name, a)
			}
			if pad := alignUp(off, a) - off; pad > 0 {
				if i == 0 {
					return 0, fmt.Errorf("section %s: the first appended section cannot be aligned beyond the stub's file alignment %d", sec.Name, fileAlign)
				}
				headers[i-1].SizeOfRawData += uint32(pad)
				initData += pad
				off += pad
			}
		}
		raw := alignUp(uint64(sec.Size), fileAlign)
		h := &headers[i]
		copy(h.Name[:], sec.Name)
		h.VirtualSize = uint32(sec.Size)
		h.SizeOfRawData = uint32(raw)
		h.PointerToRawData = uint32(off)
		h.Characteristics = sectionFlags
		off += raw
		initData += raw
		if off > 0xffffffff || initData > 0xffffffff {
			return 0, fmt.Errorf("image would exceed 4 GiB at section %q", sec.Name)
		}
	}
	// Then memory: each section's span covers its raw data too, so a
	// loader that maps all of SizeOfRawData overlaps nothing.
	for i := range headers {
		h := &headers[i]
		h.VirtualAddress = uint32(va)
		va = alignUp(va+uint64(max(h.VirtualSize, h.SizeOfRawData)), virtAlign)
		if va > 0xffffffff {
			return 0, fmt.Errorf("image would exceed 4 GiB at section %q", sections[i].Name)
		}
	}
	total := int64(off)

	s.fh.NumberOfSections += uint16(len(sections))
	s.fh.PointerToSymbolTable = 0
	s.fh.NumberOfSymbols = 0
	s.oh.SizeOfImage = uint32(alignUp(va, uint64(s.oh.SectionAlignment)))
	s.oh.SizeOfInitializedData = uint32(initData)
	s.oh.CheckSum = 0
	if s.oh.NumberOfRvaAndSizes > dataDirSecurity {
		s.oh.DataDirectory[dataDirSecurity] = pe.DataDirectory{}
	}
	if err := putHeaders(head, s, headers); err != nil {
		return 0, err
	}

	var sum checksum
	sum.add(head)
	for _, sec := range sections {
		if err := sum.addReader(sec.Data, sec.Size); err != nil {
			return 0, fmt.Errorf("section %s: %w", sec.Name, err)
		}
	}
	ckOff := s.peOff + peSignatureSize + fileHeaderSize + checksumOffset
	binary.LittleEndian.PutUint32(head[ckOff:], sum.final(total))

	cw := &countWriter{w: w}
	if _, err := cw.Write(head); err != nil {
		return cw.n, fmt.Errorf("write stub: %w", err)
	}
	for i, sec := range sections {
		if err := writeZeros(cw, int64(headers[i].PointerToRawData)-cw.n); err != nil {
			return cw.n, fmt.Errorf("write padding: %w", err)
		}
		n, err := io.Copy(cw, io.NewSectionReader(sec.Data, 0, sec.Size))
		if err == nil && n != sec.Size {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return cw.n, fmt.Errorf("write section %s: %w", sec.Name, err)
		}
	}
	if err := writeZeros(cw, total-cw.n); err != nil {
		return cw.n, fmt.Errorf("write padding: %w", err)
	}
	return cw.n, nil
}

// checkSections validates the sections to append against the stub.
func checkSections(s *stub, sections []Section) error {
	seen := map[string]bool{}
	for _, sh := range s.sections {
		seen[sectionName(sh.Name)] = true
	}
	hasLinux := false
	for _, sec := range sections {
		switch {
		case sec.Name == "" || len(sec.Name) > 8:
			return fmt.Errorf("section name %q must be 1 to 8 bytes", sec.Name)
		case bytes.IndexByte([]byte(sec.Name), 0) >= 0:
			return fmt.Errorf("section name %q contains a NUL byte", sec.Name)
		case seen[sec.Name]:
			return fmt.Errorf("section %s already exists in the stub or is given twice", sec.Name)
		case sec.Data == nil || sec.Size <= 0:
			return fmt.Errorf("section %s is empty", sec.Name)
		case sec.Size > 0xffffffff:
			return fmt.Errorf("section %s is %d bytes, more than a PE section can hold", sec.Name, sec.Size)
		}
		seen[sec.Name] = true
		hasLinux = hasLinux || sec.Name == SectionLinux
	}
	if !hasLinux {
		return errors.New("no .linux section given")
	}
	return nil
}

// putHeaders encodes the stub's updated headers and the new section headers
// into head.
func putHeaders(head []byte, s *stub, added []pe.SectionHeader32) error {
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, &s.fh); err != nil {
		return fmt.Errorf("encode file header: %w", err)
	}
	copy(head[s.peOff+peSignatureSize:], buf.Bytes())

	buf.Reset()
	if err := binary.Write(&buf, binary.LittleEndian, &s.oh); err != nil {
		return fmt.Errorf("encode optional header: %w", err)
	}
	// Only the data directories the stub has room for are written back.
	ohOff := s.peOff + peSignatureSize + fileHeaderSize
	copy(head[ohOff:ohOff+min(s.ohSize, optHeader64Full)], buf.Bytes())

	buf.Reset()
	if err := binary.Write(&buf, binary.LittleEndian, added); err != nil {
		return fmt.Errorf("encode section headers: %w", err)
	}
	copy(head[s.tableOff+len(s.sections)*sectionHeaderSize:], buf.Bytes())
	return nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var zeros [4096]byte

// writeZeros writes n zero bytes (none if n <= 0).
func writeZeros(w io.Writer, n int64) error {
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := w.Write(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}
