// Package elftest writes the smallest ELF files debug/elf accepts, for
// tests that need an executable (static or dynamic, any machine) or a
// kernel module with a .modinfo section without building one.
package elftest

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

func header(typ elf.Type, machine elf.Machine) elf.Header64 {
	h := elf.Header64{Type: uint16(typ), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT), Ehsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	return h
}

// Exec is an ELF64 executable for machine, 256 bytes long, with a
// PT_INTERP segment naming interp when it is not empty (a dynamically
// linked program) and a PT_LOAD segment. Nothing can run it.
func Exec(machine elf.Machine, interp string) []byte {
	const ehsize, phentsize = 64, 56
	phnum := uint16(1)
	if interp != "" {
		phnum = 2
	}
	h := header(elf.ET_EXEC, machine)
	h.Entry, h.Phoff, h.Phentsize, h.Phnum = 0x401000, ehsize, phentsize, phnum
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, h)
	if interp != "" {
		off := uint64(ehsize + int(phnum)*phentsize)
		binary.Write(&b, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_INTERP), Flags: uint32(elf.PF_R), Off: off, Filesz: uint64(len(interp) + 1), Memsz: uint64(len(interp) + 1), Align: 1})
	}
	binary.Write(&b, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X), Vaddr: 0x400000, Paddr: 0x400000, Filesz: 0x100, Memsz: 0x100, Align: 0x1000})
	b.WriteString(interp)
	b.WriteByte(0)
	for b.Len() < 0x100 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// Rel is an x86-64 ELF64 relocatable file whose only sections are secName
// holding data and the section name table.
func Rel(secName string, data []byte) []byte {
	return RelSections(Section{Name: secName, Data: data})
}

// Section is one section of a file RelSections writes.
type Section struct {
	Name string
	Data []byte
}

// RelSections is an x86-64 ELF64 relocatable file with the given sections
// (SHF_ALLOC PROGBITS, in order, after the null section) and the section
// name table last.
func RelSections(secs ...Section) []byte {
	const ehsize, shentsize = 64, 64
	shstrtab := []byte{0}
	var names []uint32
	for _, s := range secs {
		names = append(names, uint32(len(shstrtab)))
		shstrtab = append(append(shstrtab, s.Name...), 0)
	}
	strName := uint32(len(shstrtab))
	shstrtab = append(shstrtab, ".shstrtab\x00"...)
	h := header(elf.ET_REL, elf.EM_X86_64)
	var body bytes.Buffer
	headers := []elf.Section64{{}}
	for i, s := range secs {
		headers = append(headers, elf.Section64{Name: names[i], Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: uint64(ehsize + body.Len()), Size: uint64(len(s.Data)), Addralign: 1})
		body.Write(s.Data)
	}
	headers = append(headers, elf.Section64{Name: strName, Type: uint32(elf.SHT_STRTAB), Off: uint64(ehsize + body.Len()), Size: uint64(len(shstrtab)), Addralign: 1})
	body.Write(shstrtab)
	shOff := (uint64(ehsize+body.Len()) + 7) &^ 7
	h.Shoff, h.Shentsize, h.Shnum, h.Shstrndx = shOff, shentsize, uint16(len(headers)), uint16(len(headers)-1)
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, h)
	b.Write(body.Bytes())
	for uint64(b.Len()) < shOff {
		b.WriteByte(0)
	}
	for _, s := range headers {
		binary.Write(&b, binary.LittleEndian, s)
	}
	return b.Bytes()
}

// KO is a kernel module: a relocatable file whose .modinfo section holds
// the key=value entries, each NUL-terminated, as modpost writes them.
func KO(entries ...string) []byte {
	var modinfo []byte
	for _, e := range entries {
		modinfo = append(append(modinfo, e...), 0)
	}
	return Rel(".modinfo", modinfo)
}
