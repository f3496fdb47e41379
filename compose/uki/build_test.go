package uki

import (
	"bytes"
	"debug/pe"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

const realStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

func testSections() []Section {
	return []Section{
		Bytes(SectionOSRel, []byte("ID=tinyboot\n")),
		Bytes(SectionCmdline, []byte("console=ttyS0 panic=-1")),
		Bytes(SectionUname, []byte("6.1.0-56-amd64")),
		Bytes(SectionLinux, pattern(100_001, 7)),
		Bytes(SectionInitrd, pattern(70_000, 8)),
	}
}

// checkUKI builds a UKI from stub and sections and verifies every header
// field Build is responsible for against the stub it came from.
func checkUKI(t *testing.T, stub []byte, sections []Section) []byte {
	t.Helper()
	var out bytes.Buffer
	n, err := Build(&out, stub, sections)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	b := out.Bytes()
	if n != int64(len(b)) {
		t.Errorf("Build returned %d, wrote %d bytes", n, len(b))
	}

	in, err := pe.NewFile(bytes.NewReader(stub))
	if err != nil {
		t.Fatalf("parse stub: %v", err)
	}
	f, err := pe.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse UKI: %v", err)
	}
	ioh := in.OptionalHeader.(*pe.OptionalHeader64)
	oh := f.OptionalHeader.(*pe.OptionalHeader64)

	if got, want := len(f.Sections), len(in.Sections)+len(sections); got != want {
		t.Fatalf("UKI has %d sections, want %d", got, want)
	}
	if f.PointerToSymbolTable != 0 || f.NumberOfSymbols != 0 {
		t.Errorf("symbol table kept: ptr %#x n %d", f.PointerToSymbolTable, f.NumberOfSymbols)
	}
	if f.Machine != in.Machine || f.Characteristics != in.Characteristics {
		t.Errorf("file header changed: machine %#x chars %#x", f.Machine, f.Characteristics)
	}
	if oh.AddressOfEntryPoint != ioh.AddressOfEntryPoint || oh.SizeOfHeaders != ioh.SizeOfHeaders ||
		oh.FileAlignment != ioh.FileAlignment || oh.SectionAlignment != ioh.SectionAlignment ||
		oh.Subsystem != ioh.Subsystem {
		t.Errorf("optional header fields changed")
	}
	if oh.DataDirectory[dataDirSecurity] != (pe.DataDirectory{}) {
		t.Errorf("certificate table kept: %+v", oh.DataDirectory[dataDirSecurity])
	}
	for i := range oh.DataDirectory {
		if i != dataDirSecurity && oh.DataDirectory[i] != ioh.DataDirectory[i] {
			t.Errorf("data directory %d changed", i)
		}
	}
	if got := imageChecksum(b, checksumFieldOff(t, b)); got != oh.CheckSum {
		t.Errorf("CheckSum %#x, computed %#x", oh.CheckSum, got)
	}

	// The stub's own sections are untouched.
	for i, s := range in.Sections {
		g := f.Sections[i]
		if g.SectionHeader != s.SectionHeader {
			t.Errorf("stub section %s header changed: %+v", s.Name, g.SectionHeader)
		}
		want, _ := s.Data()
		got, _ := g.Data()
		if !bytes.Equal(got, want) {
			t.Errorf("stub section %s data changed", s.Name)
		}
	}

	var rawSum uint32
	var end uint32
	maxVirt := uint32(0)
	for _, s := range f.Sections {
		maxVirt = max(maxVirt, s.VirtualAddress+max(s.VirtualSize, s.Size))
	}
	for i, want := range sections {
		s := f.Sections[len(in.Sections)+i]
		if s.Name != want.Name {
			t.Errorf("section %d is %q, want %q", i, s.Name, want.Name)
		}
		if int64(s.VirtualSize) != want.Size {
			t.Errorf("%s VirtualSize %d, want %d", s.Name, s.VirtualSize, want.Size)
		}
		rawWant := uint32(alignUp(uint64(want.Size), uint64(oh.FileAlignment)))
		if i+1 < len(sections) && sections[i+1].FileAlign > int64(oh.FileAlignment) {
			// Padded so that the next section starts aligned.
			if s.Size < rawWant || s.Size >= rawWant+uint32(sections[i+1].FileAlign) {
				t.Errorf("%s SizeOfRawData %#x not the aligned size plus padding", s.Name, s.Size)
			}
		} else if s.Size != rawWant {
			t.Errorf("%s SizeOfRawData %#x not the aligned size", s.Name, s.Size)
		}
		if want.FileAlign != 0 && s.Offset%uint32(want.FileAlign) != 0 {
			t.Errorf("%s at file offset %#x, want a multiple of %#x", s.Name, s.Offset, want.FileAlign)
		}
		if s.Offset%oh.FileAlignment != 0 || s.VirtualAddress%minVirtualAlign != 0 {
			t.Errorf("%s misaligned: offset %#x va %#x", s.Name, s.Offset, s.VirtualAddress)
		}
		if s.Characteristics != 0x40000040 {
			t.Errorf("%s characteristics %#x", s.Name, s.Characteristics)
		}
		if s.Offset < end {
			t.Errorf("%s at %#x overlaps previous data ending at %#x", s.Name, s.Offset, end)
		}
		end = s.Offset + s.Size
		rawSum += s.Size
		// No overlap in memory with any other section.
		for _, o := range f.Sections {
			if o != s && s.VirtualAddress < o.VirtualAddress+max(o.VirtualSize, o.Size) &&
				o.VirtualAddress < s.VirtualAddress+s.VirtualSize {
				t.Errorf("%s overlaps %s in memory", s.Name, o.Name)
			}
		}
		data := make([]byte, want.Size)
		if _, err := want.Data.ReadAt(data, 0); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, want.Size)
		if _, err := s.ReadAt(got, 0); err != nil {
			t.Fatalf("read %s: %v", s.Name, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s data differs", s.Name)
		}
	}
	if int(end) != len(b) {
		t.Errorf("file is %d bytes, last section ends at %d", len(b), end)
	}
	if oh.SizeOfImage < maxVirt || oh.SizeOfImage%oh.SectionAlignment != 0 {
		t.Errorf("SizeOfImage %#x does not cover sections ending at %#x", oh.SizeOfImage, maxVirt)
	}
	if oh.SizeOfInitializedData != ioh.SizeOfInitializedData+rawSum {
		t.Errorf("SizeOfInitializedData %#x, want %#x", oh.SizeOfInitializedData, ioh.SizeOfInitializedData+rawSum)
	}
	return b
}

func checksumFieldOff(t *testing.T, b []byte) int {
	s, err := parseStub(b)
	if err != nil {
		t.Fatal(err)
	}
	return s.peOff + peSignatureSize + fileHeaderSize + checksumOffset
}

func TestBuild(t *testing.T) {
	text := stubSection{".text", 0x1000, pattern(0x1234, 1)}
	data := stubSection{".data", 0x4000, pattern(0x345, 3)}
	sdm := stubSection{".sdmagic", 0x5100, []byte("#### LoaderInfo: systemd-stub ####")}
	tests := []struct {
		name     string
		stub     stubOpts
		sections []Section
	}{
		{"ordered", stubOpts{sections: []stubSection{text, data, sdm}, headerRoom: 5}, testSections()},
		{"symbols", stubOpts{sections: []stubSection{text, data}, headerRoom: 5, symbols: symbols(9)}, testSections()},
		{"signed", stubOpts{sections: []stubSection{text, data}, headerRoom: 5, symbols: symbols(1), securityDir: true}, testSections()},
		{"file order differs from address order", stubOpts{sections: []stubSection{sdm, data, text}, headerRoom: 5}, testSections()},
		{"table order differs from file order", stubOpts{sections: []stubSection{text, data, sdm}, headerRoom: 5, tableOrder: []int{2, 0, 1}}, testSections()},
		{"section alignment 0x2000", stubOpts{sections: []stubSection{text, data}, headerRoom: 5, sectAlign: 0x2000}, testSections()},
		{"exact room", stubOpts{sections: []stubSection{text}, headerRoom: 1}, []Section{Bytes(SectionLinux, []byte{1})}},
		{"linux only, odd size", stubOpts{sections: []stubSection{text}, headerRoom: 5}, []Section{Bytes(SectionLinux, pattern(513, 9))}},
		{"kernel and initrd on 2048-byte file offsets", stubOpts{sections: []stubSection{text, data, sdm}, headerRoom: 5}, []Section{
			Bytes(SectionOSRel, pattern(77, 2)), Bytes(SectionUname, pattern(4000, 4)),
			Bytes(SectionLinux, pattern(9001, 5)).Aligned(2048), Bytes(SectionInitrd, pattern(3333, 6)).Aligned(2048)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkUKI(t, makeStub(t, tt.stub), tt.sections)
		})
	}
}

func TestBuildDeterministic(t *testing.T) {
	stub := defaultStub(t)
	var a, b bytes.Buffer
	if _, err := Build(&a, stub, testSections()); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(&b, stub, testSections()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two builds differ")
	}
}

func TestBuildErrors(t *testing.T) {
	good := defaultStub(t)
	mutate := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	linux := []Section{Bytes(SectionLinux, []byte("kernel"))}
	tests := []struct {
		name     string
		stub     []byte
		sections []Section
		want     string
	}{
		{"empty stub", nil, linux, "missing MZ signature"},
		{"not MZ", mutate(func(b []byte) { b[0] = 'X' }), linux, "stub is not a PE image: missing MZ signature"},
		{"no PE signature", mutate(func(b []byte) { b[0x80] = 'X' }), linux, "missing PE signature"},
		{"PE offset out of range", mutate(func(b []byte) { b[0x3d] = 0xff }), linux, "out of range"},
		{"unknown machine", mutate(func(b []byte) { b[0x84], b[0x85] = 0x64, 0xff }), linux, "stub is for PE machine 0xff64"},
		{"PE32", mutate(func(b []byte) { b[0x80+24] = 0x0b; b[0x80+25] = 0x01 }), linux, "not a PE32+"},
		{"truncated header", good[:0x300], linux, "inconsistent"},
		{"truncated section", good[:0x500], linux, "runs past the end"},
		{"no room", makeStub(t, stubOpts{sections: []stubSection{{".text", 0x1000, []byte{1}}}}),
			testSections(), "room for 2 more section headers, need 5"},
		{"no .linux", good, []Section{Bytes(SectionCmdline, []byte("x"))}, "no .linux section"},
		{"long name", good, append(linux, Bytes(".initramfs", []byte("x"))), "1 to 8 bytes"},
		{"empty name", good, append(linux, Bytes("", []byte("x"))), "1 to 8 bytes"},
		{"NUL in name", good, append(linux, Bytes(".a\x00b", []byte("x"))), "NUL"},
		{"clashes with stub", good, append(linux, Bytes(".text", []byte("x"))), ".text already exists"},
		{"duplicate", good, append(linux, Bytes(SectionLinux, []byte("x"))), ".linux already exists"},
		{"empty data", good, append(linux, Bytes(SectionInitrd, nil)), ".initrd is empty"},
		{"short data", good, []Section{{Name: SectionLinux, Data: strings.NewReader("abc"), Size: 10}}, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := Build(&out, tt.stub, tt.sections)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error %v, want one containing %q", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", out.Len())
			}
		})
	}
}

// failWriter fails after n bytes, to check write errors are reported.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestBuildWriteError(t *testing.T) {
	for _, at := range []int{0, 100, 0x1000, 0x4000} {
		n, err := Build(&failWriter{n: at}, defaultStub(t), testSections())
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("fail at %d: error %v", at, err)
		}
		if n != int64(at) {
			t.Errorf("fail at %d: Build reported %d bytes", at, n)
		}
	}
}

func TestRealStub(t *testing.T) {
	stub, err := os.ReadFile(realStub)
	if err != nil {
		t.Skipf("systemd stub not installed: %v", err)
	}
	f, err := pe.NewFile(bytes.NewReader(stub))
	if err != nil {
		t.Fatal(err)
	}
	// Our checksum must agree with the one the stub's linker wrote.
	if want := f.OptionalHeader.(*pe.OptionalHeader64).CheckSum; want != 0 {
		if got := imageChecksum(stub, checksumFieldOff(t, stub)); got != want {
			t.Errorf("stub checksum computed %#x, header says %#x", got, want)
		}
	}
	b := checkUKI(t, stub, testSections())
	img, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.Section(".sdmagic"); !ok {
		t.Error("stub's .sdmagic section missing from the UKI")
	}
}

func FuzzBuild(f *testing.F) {
	f.Add(defaultStub(f))
	f.Add(makeStub(f, stubOpts{sections: []stubSection{{".text", 0x1000, []byte{1}}}, headerRoom: 1, securityDir: true}))
	if stub, err := os.ReadFile(realStub); err == nil {
		f.Add(stub)
	}
	f.Fuzz(func(t *testing.T, stub []byte) {
		var out bytes.Buffer
		n, err := Build(&out, stub, testSections())
		if err != nil {
			return
		}
		if n != int64(out.Len()) {
			t.Fatalf("Build returned %d, wrote %d", n, out.Len())
		}
		img, err := Read(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("Build output does not parse: %v", err)
		}
		s, ok := img.Section(SectionLinux)
		if !ok {
			t.Fatal("no .linux in output")
		}
		got, err := s.ReadAll()
		want := pattern(100_001, 7)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf(".linux read back wrong: %v", err)
		}
	})
}

func TestBuildAlignErrors(t *testing.T) {
	stub := defaultStub(t)
	tests := []struct {
		name     string
		sections []Section
		want     string
	}{
		{"not a power of two", []Section{Bytes(SectionOSRel, []byte("a")), Bytes(SectionLinux, []byte{1}).Aligned(3000)}, "not a power of two"},
		{"first section", []Section{Bytes(SectionLinux, []byte{1}).Aligned(1 << 20)}, "first appended section"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(io.Discard, stub, tt.sections)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestIsHeaderPadding(t *testing.T) {
	nop := []byte{0x1f, 0x20, 0x03, 0xd5}
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"zeros", make([]byte, 80), true},
		{"aarch64 nops", bytes.Repeat(nop, 20), true},
		{"nops then zeros", append(bytes.Repeat(nop, 10), make([]byte, 40)...), true},
		{"data", append(bytes.Repeat(nop, 19), 1, 2, 3, 4), false},
		{"nop cut short", append(bytes.Repeat(nop, 19), 0x1f, 0x20), false},
		{"misaligned nop", append([]byte{0, 0}, bytes.Repeat(nop, 19)...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isHeaderPadding(tt.b); got != tt.want {
				t.Errorf("isHeaderPadding = %v, want %v", got, tt.want)
			}
		})
	}
}
