package esp

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// TestExtent checks that every file's data starts on a 2048-byte boundary
// of the image and that Extent finds exactly its bytes, and that a
// fragmented or missing file is refused.
func TestExtent(t *testing.T) {
	sizes := []int64{1, 2047, 2048, 5000, 3 << 20}
	for _, size := range sizes {
		data := bytes.Repeat([]byte{0xa5, 0x5a, 0x01}, int(size/3)+1)[:size]
		var img bytes.Buffer
		files := []File{
			{Path: "EFI/BOOT/BOOTX64.EFI", Data: bytes.NewReader(data), Size: size},
			{Path: "LOADER/A.TXT", Data: strings.NewReader("abc"), Size: 3},
		}
		if _, err := Build(&img, files, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		fs, err := Open(bytes.NewReader(img.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			off, n, err := fs.Extent(f.Path)
			if err != nil {
				t.Fatalf("size %d: %s: %v", size, f.Path, err)
			}
			if off%2048 != 0 || n != f.Size {
				t.Errorf("size %d: %s: extent at %d (%d bytes), want a 2048-aligned offset and %d bytes", size, f.Path, off, n, f.Size)
			}
			want := make([]byte, f.Size)
			if _, err := f.Data.ReadAt(want, 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(img.Bytes()[off:off+n], want) {
				t.Errorf("size %d: %s: bytes at the extent differ from the file", size, f.Path)
			}
		}
	}

	// Break the big file's chain in the middle: Extent must notice.
	data := make([]byte, 64<<10)
	var img bytes.Buffer
	if _, err := Build(&img, []File{{Path: "A.BIN", Data: bytes.NewReader(data), Size: int64(len(data))}}, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	b := img.Bytes()
	fs, err := Open(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if fs.bits != 12 {
		t.Fatalf("test expects FAT12, got FAT%d", fs.bits)
	}
	// Cluster 3's FAT12 entry points to 4; make it point to 9.
	fatOff := int64(fs.bs.ReservedSectors) * 512
	e := fatOff + 3*3/2
	v := binary.LittleEndian.Uint16(b[e:])
	v = v&0x000f | 9<<4
	binary.LittleEndian.PutUint16(b[e:], v)
	fs, err = Open(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := fs.Extent("A.BIN"); err == nil || !strings.Contains(err.Error(), "fragmented") {
		t.Errorf("Extent of a fragmented file: %v, want a fragmented error", err)
	}
	if _, _, err := fs.Extent("NOPE.BIN"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Extent of a missing file: %v", err)
	}
}
