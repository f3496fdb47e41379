package uki

import (
	"bytes"
	"debug/pe"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	stub := defaultStub(t)
	sections := testSections()
	var out bytes.Buffer
	if _, err := Build(&out, stub, sections); err != nil {
		t.Fatal(err)
	}
	img, err := Read(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if img.Machine != pe.IMAGE_FILE_MACHINE_AMD64 || img.CheckSum == 0 || img.SizeOfImage == 0 {
		t.Errorf("header fields: %+v", img)
	}
	var names []string
	for _, s := range img.Sections() {
		names = append(names, s.Name)
	}
	want := ".text .reloc .data .osrel .cmdline .uname .linux .initrd"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("sections %q, want %q", got, want)
	}
	for _, sec := range sections {
		s, ok := img.Section(sec.Name)
		if !ok {
			t.Fatalf("no section %s", sec.Name)
		}
		got, err := s.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		wantData := make([]byte, sec.Size)
		_, _ = sec.Data.ReadAt(wantData, 0)
		if s.Size != sec.Size || !bytes.Equal(got, wantData) {
			t.Errorf("%s: read back %d bytes, want %d", sec.Name, len(got), sec.Size)
		}
		if s.Characteristics != sectionFlags || s.Offset%0x200 != 0 || s.VirtualAddress%0x1000 != 0 {
			t.Errorf("%s: header %+v", sec.Name, s)
		}
	}
	if _, ok := img.Section(".dtb"); ok {
		t.Error("found a section that is not there")
	}

	// A section whose data the file no longer holds is an error, not a
	// short read.
	trunc := out.Bytes()[:out.Len()-0x400]
	img, err = Read(bytes.NewReader(trunc))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := img.Section(SectionInitrd)
	if _, err := s.ReadAll(); err == nil {
		t.Error("ReadAll of a truncated section succeeded")
	}
}

func TestReadNotPE(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("MZ"), bytes.Repeat([]byte{0xff}, 1024)} {
		if _, err := Read(bytes.NewReader(b)); err == nil {
			t.Errorf("Read(%q...) succeeded", b[:min(len(b), 4)])
		}
	}
}
