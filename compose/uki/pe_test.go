package uki

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"testing"
)

// stubSection is a section of a synthetic stub.
type stubSection struct {
	name string
	va   uint32
	data []byte
}

// stubOpts describes a synthetic PE32+ stub.
type stubOpts struct {
	sections    []stubSection // laid out in file in this order
	headerRoom  int           // spare section header slots before the first section
	symbols     []byte        // COFF symbol table appended after the sections
	securityDir bool          // fake certificate table after the symbols
	sectAlign   uint32
	tableOrder  []int // order of entries in the section table; nil = file order
}

// makeStub writes a minimal PE32+ EFI application: DOS header, PE header,
// section table, sections, then optionally a symbol table, the way GNU ld
// lays out the systemd stub.
func makeStub(t testing.TB, o stubOpts) []byte {
	t.Helper()
	const peOff = 0x80
	fa := uint32(0x200)
	sa := o.sectAlign
	if sa == 0 {
		sa = 0x200
	}
	tableOff := peOff + 4 + 20 + 240
	headerSize := uint32(alignUp(uint64(tableOff+(len(o.sections)+o.headerRoom)*40), uint64(fa)))

	hdrs := make([]pe.SectionHeader32, len(o.sections))
	off := headerSize
	var vend uint32
	for i, s := range o.sections {
		h := &hdrs[i]
		copy(h.Name[:], s.name)
		h.VirtualSize = uint32(len(s.data))
		h.VirtualAddress = s.va
		h.SizeOfRawData = uint32(alignUp(uint64(len(s.data)), uint64(fa)))
		h.PointerToRawData = off
		h.Characteristics = pe.IMAGE_SCN_CNT_INITIALIZED_DATA | pe.IMAGE_SCN_MEM_READ
		off += h.SizeOfRawData
		vend = max(vend, s.va+h.SizeOfRawData)
	}
	fh := pe.FileHeader{
		Machine:              pe.IMAGE_FILE_MACHINE_AMD64,
		NumberOfSections:     uint16(len(o.sections)),
		SizeOfOptionalHeader: 240,
		Characteristics:      0x206,
	}
	if o.symbols != nil {
		fh.PointerToSymbolTable = off
		fh.NumberOfSymbols = uint32(len(o.symbols) / 18)
	}
	oh := pe.OptionalHeader64{
		Magic:                 magicPE32Plus,
		AddressOfEntryPoint:   o.sections[0].va,
		SectionAlignment:      sa,
		FileAlignment:         fa,
		SizeOfImage:           uint32(alignUp(uint64(vend), uint64(sa))),
		SizeOfHeaders:         headerSize,
		SizeOfInitializedData: 0x1000,
		CheckSum:              0xdeadbeef,
		Subsystem:             pe.IMAGE_SUBSYSTEM_EFI_APPLICATION,
		NumberOfRvaAndSizes:   16,
	}
	if o.securityDir {
		oh.DataDirectory[dataDirSecurity] = pe.DataDirectory{
			VirtualAddress: off + uint32(len(o.symbols)) + 4, Size: 16,
		}
	}

	var b bytes.Buffer
	dos := make([]byte, peOff)
	copy(dos, "MZ")
	binary.LittleEndian.PutUint32(dos[0x3c:], peOff)
	b.Write(dos)
	b.WriteString("PE\x00\x00")
	order := o.tableOrder
	if order == nil {
		for i := range hdrs {
			order = append(order, i)
		}
	}
	table := make([]pe.SectionHeader32, len(hdrs))
	for i, j := range order {
		table[i] = hdrs[j]
	}
	for _, v := range []any{&fh, &oh, table} {
		if err := binary.Write(&b, binary.LittleEndian, v); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range o.sections {
		b.Write(make([]byte, int(hdrs[i].PointerToRawData)-b.Len()))
		b.Write(s.data)
	}
	b.Write(make([]byte, int(off)-b.Len()))
	if o.symbols != nil {
		b.Write(o.symbols)
		b.Write([]byte{4, 0, 0, 0}) // empty string table: just its length
	}
	if o.securityDir {
		b.Write(bytes.Repeat([]byte{0xcc}, 16))
	}
	return b.Bytes()
}

// pattern returns n deterministic, non-repeating-looking bytes.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// symbols returns a COFF symbol table of n plain symbols.
func symbols(n int) []byte {
	b := make([]byte, 18*n)
	for i := range n {
		copy(b[18*i:], fmt.Sprintf("sym%d", i))
		b[18*i+12] = 1 // section number
	}
	return b
}

// defaultStub is a stub shaped like systemd's: code, relocs and data at
// page-aligned addresses, with a symbol table at the end.
func defaultStub(t testing.TB) []byte {
	return makeStub(t, stubOpts{
		sections: []stubSection{
			{".text", 0x1000, pattern(0x1234, 1)},
			{".reloc", 0x3000, pattern(12, 2)},
			{".data", 0x4000, pattern(0x345, 3)},
		},
		headerRoom: 7,
		symbols:    symbols(5),
	})
}
