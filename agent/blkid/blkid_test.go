package blkid

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// synth builds images byte by byte from the documented offsets, independent
// of the constants in blkid.go, so a wrong constant fails the test.
func synth(t *testing.T, typ, label string) []byte {
	t.Helper()
	switch typ {
	case ISO9660:
		img := make([]byte, 36*1024)
		copy(img[32768:], "\x01CD001\x01")
		vid := make([]byte, 32)
		for i := range vid {
			vid[i] = ' '
		}
		copy(vid, label)
		copy(img[32768+40:], vid)
		return img
	case Btrfs:
		img := make([]byte, 0x11000)
		copy(img[0x10040:], "_BHRfS_M")
		copy(img[0x1012b:], label)
		return img
	case Ext4:
		img := make([]byte, 4096)
		binary.LittleEndian.PutUint16(img[0x438:], 0xEF53)
		copy(img[0x478:], label)
		return img
	}
	t.Fatalf("synth %s", typ)
	return nil
}

func TestProbe(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), 255))
	tests := []struct {
		name string
		img  []byte
		want Info
		err  error
	}{
		{"iso", synth(t, ISO9660, "HELLO"), Info{ISO9660, "HELLO"}, nil},
		{"iso full id", synth(t, ISO9660, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"), Info{ISO9660, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"}, nil},
		{"btrfs", synth(t, Btrfs, "tinyboot"), Info{Btrfs, "tinyboot"}, nil},
		{"btrfs long label", synth(t, Btrfs, long), Info{Btrfs, long}, nil},
		{"ext4", synth(t, Ext4, "tinyboot"), Info{Ext4, "tinyboot"}, nil},
		{"ext4 16 byte label", synth(t, Ext4, "0123456789abcdef"), Info{Ext4, "0123456789abcdef"}, nil},
		{"ext4 no label", synth(t, Ext4, ""), Info{Ext4, ""}, nil},
		{"zeros", make([]byte, 1<<17), Info{}, ErrUnknown},
		{"empty", nil, Info{}, ErrUnknown},
		{"short", []byte("hello"), Info{}, ErrUnknown},
		{"iso magic wrong version", func() []byte { b := synth(t, ISO9660, "X"); b[32768+6] = 2; return b }(), Info{}, ErrUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Probe(bytes.NewReader(tt.img))
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("Probe = %+v, %v; want %+v, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestPutRoundTrip(t *testing.T) {
	for _, typ := range []string{ISO9660, Btrfs, Ext4} {
		img, err := Put(nil, typ, "lbl")
		if err != nil {
			t.Fatal(err)
		}
		got, err := Probe(bytes.NewReader(img))
		if err != nil || got != (Info{typ, "lbl"}) {
			t.Errorf("%s: %+v, %v", typ, got, err)
		}
	}
	if _, err := Put(nil, "vfat", "x"); err == nil {
		t.Error("Put vfat: no error")
	}
}

// TestRealTools cross-checks against images made by the real mkfs tools
// when they are installed.
func TestRealTools(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	tests := []struct {
		typ  string
		tool string
		args func(img string) []string
		size int64
	}{
		{Btrfs, "mkfs.btrfs", func(img string) []string { return []string{"-q", "-L", "tinyboot", img} }, 128 << 20},
		{Ext4, "mkfs.ext4", func(img string) []string { return []string{"-q", "-L", "tinyboot", img} }, 8 << 20},
		{VFAT, "mkfs.vfat", func(img string) []string { return []string{"-n", "tinyboot", img} }, 4 << 20},
		{VFAT, "mkfs.vfat", func(img string) []string { return []string{"-F", "32", "-n", "tinyboot", img} }, 40 << 20},
	}
	for _, tt := range tests {
		if _, err := exec.LookPath(tt.tool); err != nil {
			t.Logf("%s not installed", tt.tool)
			continue
		}
		img := filepath.Join(dir, fmt.Sprintf("%s-%d.img", tt.typ, tt.size))
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, tt.size); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(tt.tool, tt.args(img)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", tt.tool, err, out)
		}
		got, err := ProbeFile(img)
		if err != nil || got != (Info{tt.typ, "tinyboot"}) {
			t.Errorf("%s: %+v, %v", tt.typ, got, err)
		}
	}
}
