package esp

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
)

// genReader is a large file's contents computed on demand, so tests of
// 100+ MiB images need not hold the input in memory.
type genReader struct {
	size int64
	seed uint64
}

func (g genReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= g.size {
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > g.size-off {
		n = int(g.size - off)
	}
	for i := range n {
		x := uint64(off+int64(i))*0x9e3779b97f4a7c15 + g.seed*0xbf58476d1ce4e5b9
		x ^= x >> 29
		p[i] = byte(x >> 32)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fatImage is an image decoded by the test's own FAT reader, written from
// the spec independently of the writer's layout code.
type fatImage struct {
	bs       bootSector
	bits     int
	clusters uint32
	fat      []uint32
	files    map[string]dirEntry // full path -> entry, directories included
	img      io.ReaderAt
	dataOff  int64
	cs       int64
	used     map[uint32]bool
}

func readImage(t *testing.T, img io.ReaderAt, size int64) *fatImage {
	t.Helper()
	f := &fatImage{img: img, files: map[string]dirEntry{}, used: map[uint32]bool{}}
	if err := binary.Read(io.NewSectionReader(img, 0, 512), binary.LittleEndian, &f.bs); err != nil {
		t.Fatalf("read boot sector: %v", err)
	}
	bs := &f.bs
	if bs.Signature != 0xaa55 || bs.BytesPerSector != 512 || bs.NumFATs != 2 || bs.Media != 0xf8 {
		t.Fatalf("bad boot sector %+v", bs)
	}
	total := int64(bs.TotalSectors16)
	if total == 0 {
		total = int64(bs.TotalSectors32)
	}
	if total*512 != size {
		t.Errorf("boot sector says %d sectors, image is %d bytes", total, size)
	}
	rootSecs := int64(bs.RootEntries) * 32 / 512
	dataSec := int64(bs.ReservedSectors) + 2*int64(bs.SectorsPerFAT) + rootSecs
	f.clusters = uint32((total - dataSec) / int64(bs.SectorsPerCluster))
	f.bits = 16
	if f.clusters < 4085 {
		f.bits = 12
	}
	if want := "FAT" + map[int]string{12: "12   ", 16: "16   "}[f.bits]; string(bs.FSType[:]) != want {
		t.Errorf("FS type %q but %d clusters make it FAT%d", bs.FSType, f.clusters, f.bits)
	}
	f.dataOff = dataSec * 512
	f.cs = int64(bs.SectorsPerCluster) * 512

	fats := make([][]byte, 2)
	for i := range fats {
		fats[i] = make([]byte, int(bs.SectorsPerFAT)*512)
		if _, err := img.ReadAt(fats[i], int64(bs.ReservedSectors+uint16(i)*bs.SectorsPerFAT)*512); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(fats[0], fats[1]) {
		t.Error("the two FATs differ")
	}
	if need := (int(f.clusters) + 2) * f.bits / 8; need > len(fats[0]) {
		t.Fatalf("FAT of %d bytes cannot map %d clusters", len(fats[0]), f.clusters)
	}
	for i := range f.clusters + 2 {
		var e uint32
		if f.bits == 16 {
			e = uint32(binary.LittleEndian.Uint16(fats[0][2*i:]))
		} else {
			v := uint32(binary.LittleEndian.Uint16(fats[0][i*3/2:]))
			if i%2 == 0 {
				e = v & 0xfff
			} else {
				e = v >> 4
			}
		}
		f.fat = append(f.fat, e)
	}

	rootDir := make([]byte, rootSecs*512)
	if _, err := img.ReadAt(rootDir, int64(bs.ReservedSectors+2*bs.SectorsPerFAT)*512); err != nil {
		t.Fatal(err)
	}
	f.walkDir(t, "", rootDir, 0, 0)
	for p, e := range f.files {
		if e.Attr&attrDirectory == 0 && e.FileSize > 0 {
			f.chain(t, p, uint32(e.ClusterLow), true)
		}
	}

	for c := uint32(2); c < f.clusters+2; c++ {
		if f.fat[c] != 0 && !f.used[c] {
			t.Errorf("cluster %d allocated but in no chain", c)
		}
	}
	return f
}

func (f *fatImage) eoc() uint32 { return map[int]uint32{12: 0xff8, 16: 0xfff8}[f.bits] }

// chain follows a cluster chain, checking it is valid and contiguous, and
// with mark set records its clusters as used, failing if already used.
func (f *fatImage) chain(t *testing.T, name string, first uint32, mark bool) []uint32 {
	var cs []uint32
	for c := first; c < f.eoc(); c = f.fat[c] {
		if c < 2 || c >= f.clusters+2 || (mark && f.used[c]) || len(cs) > int(f.clusters) {
			t.Fatalf("%s: bad, shared or looping cluster %d in chain", name, c)
		}
		if len(cs) > 0 && c != cs[len(cs)-1]+1 {
			t.Errorf("%s: not contiguous at cluster %d", name, c)
		}
		if mark {
			f.used[c] = true
		}
		cs = append(cs, c)
	}
	return cs
}

func (f *fatImage) readChain(t *testing.T, name string, first uint32, mark bool) []byte {
	var b []byte
	for _, c := range f.chain(t, name, first, mark) {
		buf := make([]byte, f.cs)
		if _, err := f.img.ReadAt(buf, f.dataOff+int64(c-2)*f.cs); err != nil {
			t.Fatalf("%s: read cluster %d: %v", name, c, err)
		}
		b = append(b, buf...)
	}
	return b
}

func (f *fatImage) walkDir(t *testing.T, dir string, b []byte, self, parent uint32) {
	for i := 0; i+32 <= len(b); i += 32 {
		var e dirEntry
		_ = binary.Read(bytes.NewReader(b[i:i+32]), binary.LittleEndian, &e)
		if e.Name[0] == 0 {
			break
		}
		name := strings.TrimRight(string(e.Name[:8]), " ")
		if ext := strings.TrimRight(string(e.Name[8:]), " "); ext != "" {
			name += "." + ext
		}
		switch name {
		case ".":
			if e.ClusterLow != uint16(self) {
				t.Errorf("%s/.: cluster %d, want %d", dir, e.ClusterLow, self)
			}
			continue
		case "..":
			if e.ClusterLow != uint16(parent) {
				t.Errorf("%s/..: cluster %d, want %d", dir, e.ClusterLow, parent)
			}
			continue
		}
		p := strings.TrimPrefix(dir+"/"+name, "/")
		f.files[p] = e
		if e.Attr&attrDirectory != 0 {
			f.walkDir(t, p, f.readChain(t, p, uint32(e.ClusterLow), true), uint32(e.ClusterLow), self)
		}
	}
}

// content returns a file's data as the image holds it.
func (f *fatImage) content(t *testing.T, path string) []byte {
	e, ok := f.files[path]
	if !ok {
		t.Fatalf("%s not in image", path)
	}
	if e.FileSize == 0 {
		if e.ClusterLow != 0 {
			t.Errorf("%s: empty file has cluster %d", path, e.ClusterLow)
		}
		return nil
	}
	b := f.readChain(t, path, uint32(e.ClusterLow), false)
	if int64(len(b)) != (int64(e.FileSize)+f.cs-1)/f.cs*f.cs {
		t.Errorf("%s: %d bytes of clusters for a %d-byte file", path, len(b), e.FileSize)
	}
	return b[:e.FileSize]
}
