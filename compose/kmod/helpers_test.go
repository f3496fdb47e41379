package kmod

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"strings"
)

// buildKO writes a minimal ELF64 relocatable file, like a .ko, whose only
// sections are .modinfo (holding the given key=value entries, NUL
// terminated) and the section name table.
func buildKO(entries ...string) []byte {
	var modinfo []byte
	for _, e := range entries {
		modinfo = append(append(modinfo, e...), 0)
	}
	return buildELF(".modinfo", modinfo)
}

// buildELF writes an ELF64 ET_REL file with one PROGBITS section.
func buildELF(secName string, data []byte) []byte {
	shstrtab := []byte("\x00" + secName + "\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	dataOff := uint64(ehsize)
	strOff := dataOff + uint64(len(data))
	shOff := (strOff + uint64(len(shstrtab)) + 7) &^ 7

	var b bytes.Buffer
	hdr := elf.Header64{
		Type:      uint16(elf.ET_REL),
		Machine:   uint16(elf.EM_X86_64),
		Version:   uint32(elf.EV_CURRENT),
		Shoff:     shOff,
		Ehsize:    ehsize,
		Shentsize: shentsize,
		Shnum:     3,
		Shstrndx:  2,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	binary.Write(&b, binary.LittleEndian, hdr)
	b.Write(data)
	b.Write(shstrtab)
	for uint64(b.Len()) < shOff {
		b.WriteByte(0)
	}
	sections := []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: dataOff, Size: uint64(len(data)), Addralign: 1},
		{Name: uint32(1 + len(secName) + 1), Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(shstrtab)), Addralign: 1},
	}
	for _, s := range sections {
		binary.Write(&b, binary.LittleEndian, s)
	}
	return b.Bytes()
}

// mod describes a synthetic module for index tests.
type mod struct {
	name    string
	depends string // comma separated, as in .modinfo
	softdep string // e.g. "pre: a b post: c"
	aliases []string
}

// buildIndex makes an Index from synthetic modules, going through
// buildKO and ParseModinfo so the whole path is exercised.
func buildIndex(mods []mod, builtin ...string) (*Index, error) {
	x := NewIndex()
	for _, m := range mods {
		entries := []string{"license=GPL"}
		for _, a := range m.aliases {
			entries = append(entries, "alias="+a)
		}
		if m.softdep != "" {
			entries = append(entries, "softdep="+m.softdep)
		}
		entries = append(entries, "depends="+m.depends, "intree=Y", "name="+m.name, "vermagic=6.1.0-test SMP mod_unload ")
		info, err := ParseModinfo(buildKO(entries...))
		if err != nil {
			return nil, err
		}
		if err := x.Add("kernel/drivers/"+strings.ReplaceAll(m.name, "_", "-")+".ko", info); err != nil {
			return nil, err
		}
	}
	x.MarkBuiltin(builtin)
	return x, nil
}
