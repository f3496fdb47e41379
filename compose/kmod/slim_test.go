package kmod

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/internal/elftest"
)

// signed appends a module signature as the kernel's sign-file does: the
// blob, struct module_signature (its last four bytes the blob's length,
// big endian) and the marker.
func signed(ko, blob []byte) []byte {
	sig := make([]byte, 12)
	sig[2] = 2 // id_type PKCS#7
	binary.BigEndian.PutUint32(sig[8:], uint32(len(blob)))
	return append(append(append(append([]byte(nil), ko...), blob...), sig...), signatureMarker...)
}

func TestSlim(t *testing.T) {
	text := bytes.Repeat([]byte{0xc3}, 100)
	modinfo := []byte("name=m\x00license=GPL\x00")
	full := elftest.RelSections(
		elftest.Section{Name: ".text", Data: text},
		elftest.Section{Name: ".BTF", Data: bytes.Repeat([]byte("btf"), 50)},
		elftest.Section{Name: ".orc_unwind_ip", Data: bytes.Repeat([]byte{1, 2, 3, 4}, 20)},
		elftest.Section{Name: ".rela.orc_unwind_ip", Data: bytes.Repeat([]byte{9}, 48)},
		elftest.Section{Name: ".modinfo", Data: modinfo},
	)
	plain := elftest.RelSections(elftest.Section{Name: ".text", Data: text}, elftest.Section{Name: ".modinfo", Data: modinfo})
	for _, tt := range []struct {
		name      string
		in        []byte
		unsigned  []byte // the input without its signature
		emptied   []string
		wantError string
	}{
		{name: "signed, with debug sections", in: signed(full, bytes.Repeat([]byte{0x30}, 300)), unsigned: full, emptied: []string{".BTF", ".orc_unwind_ip", ".rela.orc_unwind_ip"}},
		{name: "unsigned, with debug sections", in: full, unsigned: full, emptied: []string{".BTF", ".orc_unwind_ip", ".rela.orc_unwind_ip"}},
		{name: "signed, nothing to empty", in: signed(plain, []byte{1, 2, 3}), unsigned: plain},
		{name: "unsigned, nothing to empty", in: plain, unsigned: plain},
		{name: "signature longer than the module", in: append(append(append([]byte(nil), plain...), 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff), signatureMarker...), wantError: "module signature of"},
		{name: "marker alone", in: []byte(signatureMarker), wantError: "signature truncated"},
		{name: "not ELF", in: []byte("hello world, not a module at all, long enough for a header ......"), wantError: "not an ELF module"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]byte(nil), tt.in...)
			out, err := Slim(in)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("Slim = %v, want an error with %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, tt.in) {
				t.Error("Slim changed its input")
			}
			if bytes.HasSuffix(out, []byte(signatureMarker)) {
				t.Error("signature still appended")
			}
			if len(out) != len(tt.unsigned) {
				t.Fatalf("%d bytes out, want %d (the module without its signature)", len(out), len(tt.unsigned))
			}
			if len(tt.emptied) == 0 && !bytes.Equal(out, tt.unsigned) {
				t.Error("a module with nothing to empty changed")
			}
			before, err := elf.NewFile(bytes.NewReader(tt.unsigned))
			if err != nil {
				t.Fatal(err)
			}
			after, err := elf.NewFile(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("slimmed module does not parse: %v", err)
			}
			if len(after.Sections) != len(before.Sections) {
				t.Fatalf("%d sections, want %d (headers are kept)", len(after.Sections), len(before.Sections))
			}
			emptied := map[string]bool{}
			for _, n := range tt.emptied {
				emptied[n] = true
			}
			for i, s := range after.Sections {
				b := before.Sections[i]
				if s.Name != b.Name || s.Offset != b.Offset || s.Type != b.Type {
					t.Errorf("section %d: %s at %d, was %s at %d", i, s.Name, s.Offset, b.Name, b.Offset)
				}
				if emptied[s.Name] {
					if s.Size != 0 {
						t.Errorf("%s: size %d, want 0", s.Name, s.Size)
					}
					if old := out[b.Offset : b.Offset+b.Size]; bytes.Count(old, []byte{0}) != len(old) {
						t.Errorf("%s: its old bytes are not zeroed", s.Name)
					}
					continue
				}
				got, _ := s.Data()
				want, _ := b.Data()
				if !bytes.Equal(got, want) {
					t.Errorf("%s changed", s.Name)
				}
			}
			info, err := ParseModinfo(out)
			if err != nil || info.Name != "m" {
				t.Errorf("modinfo after Slim: %+v, %v", info, err)
			}
		})
	}
}
