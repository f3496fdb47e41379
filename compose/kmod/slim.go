package kmod

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// SlimSections are the sections Slim empties: what a module carries for
// debugging and tracing tools rather than for running. .BTF is type data
// for BPF programs; .orc_unwind, .orc_unwind_ip and its relocations are the
// ORC unwinder's tables (without them a stack trace through the module's
// code in an oops is marked unreliable); __mcount_loc and its relocations
// list the ftrace call sites (without them ftrace cannot trace the
// module's functions; the sites themselves are NOPs already). Together they
// are about 30% of a module's bytes; none is read when the module runs.
var SlimSections = []string{".BTF", ".orc_unwind", ".orc_unwind_ip", ".rela.orc_unwind_ip", "__mcount_loc", ".rela__mcount_loc"}

// signatureMarker ends a module that carries an appended signature.
const signatureMarker = "~Module signature appended~\n"

// Signed reports whether a module carries an appended signature.
func Signed(ko []byte) bool { return bytes.HasSuffix(ko, []byte(signatureMarker)) }

// Slim returns a copy of the module ko with the SlimSections emptied and its
// appended signature removed: an unsigned module, which the kernel loads
// unless it enforces signatures (module.sig_enforce, or the lockdown
// Secure Boot brings), with a one-time taint notice. Empty is meant
// literally: each section keeps its header with size 0, so no section
// index, symbol or relocation elsewhere changes, and its bytes are zeroed
// (they cost nothing compressed). A module without those sections comes
// back unchanged but for the signature.
//
// Written by hand because debug/elf only reads, and no ELF writer for
// relocatable objects is among the dependencies; the edit is two fields per
// section and a truncation, nothing that moves data.
func Slim(ko []byte) ([]byte, error) {
	body, err := stripSignature(ko)
	if err != nil {
		return nil, err
	}
	f, err := elf.NewFile(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("not an ELF module: %w", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Type != elf.ET_REL {
		return nil, fmt.Errorf("not a 64-bit relocatable ELF module (class %v, type %v)", f.Class, f.Type)
	}
	shoff, shentsize, err := sectionTable(body, f.ByteOrder)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), body...)
	for i, s := range f.Sections {
		if s.Size == 0 || !slices.Contains(SlimSections, s.Name) {
			continue
		}
		if s.Type != elf.SHT_NOBITS {
			end := s.Offset + s.Size
			if end > uint64(len(out)) || end < s.Offset {
				return nil, fmt.Errorf("section %s runs past the end of the file", s.Name)
			}
			clear(out[s.Offset:end])
		}
		// Elf64_Shdr: sh_size is the 8 bytes at offset 32.
		at := shoff + uint64(i)*shentsize + 32
		f.ByteOrder.PutUint64(out[at:at+8], 0)
	}
	return out, nil
}

// sectionTable returns e_shoff and e_shentsize of a 64-bit ELF header,
// checked to lie inside b.
func sectionTable(b []byte, bo binary.ByteOrder) (off, entsize uint64, err error) {
	if len(b) < 64 {
		return 0, 0, errors.New("ELF header truncated")
	}
	off = bo.Uint64(b[40:48])
	entsize = uint64(bo.Uint16(b[58:60]))
	n := uint64(bo.Uint16(b[60:62]))
	if entsize < 64 || off+n*entsize > uint64(len(b)) || off+n*entsize < off {
		return 0, 0, fmt.Errorf("section header table (%d entries of %d bytes at %d) outside the file", n, entsize, off)
	}
	return off, entsize, nil
}

// stripSignature returns ko without its appended signature: the PKCS#7
// blob, then struct module_signature (12 bytes, the blob's length big
// endian in its last four), then the marker.
func stripSignature(ko []byte) ([]byte, error) {
	rest, ok := bytes.CutSuffix(ko, []byte(signatureMarker))
	if !ok {
		return ko, nil
	}
	if len(rest) < 12 {
		return nil, errors.New("module signature truncated")
	}
	sigLen := uint64(binary.BigEndian.Uint32(rest[len(rest)-4:]))
	n := uint64(len(rest)) - 12
	if sigLen > n {
		return nil, fmt.Errorf("module signature of %d bytes in a %d-byte module", sigLen, len(ko))
	}
	return rest[:n-sigLen], nil
}
