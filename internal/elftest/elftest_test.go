package elftest

import (
	"bytes"
	"debug/elf"
	"testing"
)

func TestFilesParse(t *testing.T) {
	for _, tt := range []struct {
		machine elf.Machine
		interp  string
	}{{elf.EM_X86_64, ""}, {elf.EM_X86_64, "/lib64/ld-linux-x86-64.so.2"}, {elf.EM_AARCH64, ""}} {
		f, err := elf.NewFile(bytes.NewReader(Exec(tt.machine, tt.interp)))
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != tt.machine || f.Type != elf.ET_EXEC {
			t.Errorf("machine %v type %v", f.Machine, f.Type)
		}
		var interp string
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				b := make([]byte, p.Filesz)
				p.ReadAt(b, 0)
				interp = string(bytes.TrimRight(b, "\x00"))
			}
		}
		if interp != tt.interp {
			t.Errorf("interp %q, want %q", interp, tt.interp)
		}
	}
	f, err := elf.NewFile(bytes.NewReader(KO("name=x", "depends=a,b")))
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.Section(".modinfo").Data()
	if err != nil || string(data) != "name=x\x00depends=a,b\x00" {
		t.Fatalf(".modinfo = %q, %v", data, err)
	}
}
