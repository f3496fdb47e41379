package esp

import (
	"bytes"
	"testing"
	"time"
)

func TestOpenReadFile(t *testing.T) {
	for _, size := range []int{1, 4096, 3 << 20} {
		data := bytes.Repeat([]byte{0x5a, 0x11, 0x22}, size/3+1)[:size]
		files := []File{
			{Path: "EFI/BOOT/BOOTX64.EFI", Data: bytes.NewReader(data), Size: int64(len(data))},
			{Path: "README.TXT", Data: bytes.NewReader([]byte("hi")), Size: 2},
		}
		var img bytes.Buffer
		if _, err := Build(&img, files, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		fs, err := Open(bytes.NewReader(img.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := fs.ReadFile("efi/boot/bootx64.efi")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("size %d: read back %d bytes, differ", size, len(got))
		}
		if b, err := fs.ReadFile("README.TXT"); err != nil || string(b) != "hi" {
			t.Fatalf("README.TXT: %q %v", b, err)
		}
		for _, bad := range []string{"EFI/BOOT", "NOPE", "README.TXT/X"} {
			if _, err := fs.ReadFile(bad); err == nil {
				t.Errorf("ReadFile(%q) succeeded", bad)
			}
		}
	}
	if _, err := Open(bytes.NewReader(make([]byte, 4096))); err == nil {
		t.Error("zero image opened")
	}
}
