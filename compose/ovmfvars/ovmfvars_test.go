package ovmfvars

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/compose/secureboot"
)

// blankStore builds a variable store file shaped like OVMF_VARS_4M.fd:
// a firmware volume header, an empty authenticated store, erased flash.
func blankStore(size int) []byte {
	b := bytes.Repeat([]byte{0xff}, size)
	copy(b[:16], make([]byte, 16))
	copy(b[16:32], systemNvDataFv[:])
	binary.LittleEndian.PutUint64(b[32:], uint64(size))
	copy(b[40:], "_FVH")
	binary.LittleEndian.PutUint16(b[48:], 0x48)
	off := 0x48
	copy(b[off:], authenticatedStore[:])
	binary.LittleEndian.PutUint32(b[off+16:], uint32(size/2-off))
	b[off+20], b[off+21] = storeFormatted, storeHealthy
	copy(b[off+22:off+28], make([]byte, 6))
	return b
}

// templates are the stores to enroll into: a synthetic blank one, and
// the system's blank and snakeoil ones when installed.
func templates(t *testing.T) map[string][]byte {
	m := map[string][]byte{"synthetic": blankStore(0x84000)}
	for name, p := range map[string]string{
		"OVMF_VARS_4M":          "/usr/share/OVMF/OVMF_VARS_4M.fd",
		"OVMF_VARS_4M.snakeoil": "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd",
	} {
		if b, err := os.ReadFile(p); err == nil {
			m[name] = b
		} else if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v (package ovmf)", p, err)
		}
	}
	return m
}

func TestEnroll(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	if err := secureboot.Create(keys, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	for name, tmpl := range templates(t) {
		t.Run(name, func(t *testing.T) {
			s, err := Parse(tmpl)
			if err != nil {
				t.Fatal(err)
			}
			before := len(s.Variables())
			if err := s.Enroll(keys); err != nil {
				t.Fatal(err)
			}
			out := s.Bytes()
			if len(out) != len(tmpl) {
				t.Fatalf("store is %d bytes, template %d", len(out), len(tmpl))
			}
			// Nothing outside the variable area changed: the FV header,
			// the store header and the fault-tolerant write area.
			if !bytes.Equal(out[:s.storeOff+storeHeaderSize], tmpl[:s.storeOff+storeHeaderSize]) || !bytes.Equal(out[s.storeEnd:], tmpl[s.storeEnd:]) {
				t.Error("enroll changed bytes outside the variable area")
			}
			again, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range secureboot.KeyNames {
				v, ok := again.Get(n, secureboot.VendorOf(n))
				if !ok {
					t.Fatalf("%s not enrolled", n)
				}
				esl, _ := os.ReadFile(filepath.Join(keys, n+".esl"))
				if !bytes.Equal(v.Data, esl) || v.Attributes != secureboot.AttrsAuthenticated {
					t.Errorf("%s: attributes %#x, data is the .esl: %v", n, v.Attributes, bytes.Equal(v.Data, esl))
				}
				if v.TimeStamp == ([16]byte{}) {
					t.Errorf("%s has no time stamp", n)
				}
				count := 0
				for _, w := range again.Variables() {
					if w.Name == n && w.Vendor == v.Vendor {
						count++
					}
				}
				if count != 1 {
					t.Errorf("%s is live %d times", n, count)
				}
			}
			if v, ok := again.Get("SecureBootEnable", secureBootEnableGUID); !ok || !bytes.Equal(v.Data, []byte{1}) {
				t.Errorf("SecureBootEnable %v %v", ok, v.Data)
			}
			if v, ok := again.Get("CustomMode", customModeGUID); !ok || !bytes.Equal(v.Data, []byte{0}) {
				t.Errorf("CustomMode %v %v", ok, v.Data)
			}
			// The template's other variables survive.
			if got := len(again.Variables()); got < before {
				t.Errorf("%d live variables after enrolling, %d before", got, before)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := blankStore(0x10000)
	tests := map[string]func(b []byte){
		"no FV signature":   func(b []byte) { copy(b[40:], "XXXX") },
		"not an NV volume":  func(b []byte) { b[16] ^= 1 },
		"not authenticated": func(b []byte) { b[0x48] ^= 1 },
		"not healthy":       func(b []byte) { b[0x48+21] = 0 },
		"store too big":     func(b []byte) { binary.LittleEndian.PutUint32(b[0x48+16:], 0x20000) },
	}
	for name, breakIt := range tests {
		b := bytes.Clone(good)
		breakIt(b)
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if _, err := Parse(good); err != nil {
		t.Errorf("good store: %v", err)
	}
}

func TestStoreFull(t *testing.T) {
	s, err := Parse(blankStore(0x400))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set("big", secureboot.GlobalVariable, 7, [16]byte{}, make([]byte, 0x400)); err == nil {
		t.Error("a variable larger than the store was written")
	}
}

func TestEnrollMissingKeys(t *testing.T) {
	s, _ := Parse(blankStore(0x10000))
	if err := s.Enroll(t.TempDir()); err == nil {
		t.Error("enrolled from an empty directory")
	}
}
