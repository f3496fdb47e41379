package iso

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// rawDirs walks the directory records of an image (ISO9660 names, no Rock
// Ridge) and returns every directory's path and extent sector.
func rawDirs(t *testing.T, img []byte) map[string]uint32 {
	t.Helper()
	pvd := img[pvdSector*sectorSize:]
	out := map[string]uint32{}
	var walk func(p string, lba, size uint32)
	walk = func(p string, lba, size uint32) {
		out[p] = lba
		ext := img[int64(lba)*sectorSize : int64(lba)*sectorSize+int64(size)]
		for off := 0; off < len(ext); {
			l := int(ext[off])
			if l == 0 {
				off = (off/sectorSize + 1) * sectorSize
				continue
			}
			rec := ext[off : off+l]
			id := string(rec[drName : drName+int(rec[drNameLen])])
			if rec[drFlags]&drFlagDir != 0 && id != "\x00" && id != "\x01" {
				walk(path.Join(p, id), both32(rec[drExtent:]), both32(rec[drDataLen:]))
			}
			off += l
		}
	}
	root := pvd[vdRootRecord:]
	walk("/", both32(root[drExtent:]), both32(root[drDataLen:]))
	return out
}

// TestPathTables checks both path tables against the directory records:
// one entry per directory with the right extent, parents before children,
// ordered by level, parent number and name, and L and M tables equal.
func TestPathTables(t *testing.T) {
	img := sampleImage(t, "PT")
	want := rawDirs(t, img)
	pvd := img[pvdSector*sectorSize:]
	size := both32(pvd[132:])
	type entry struct {
		path   string
		lba    uint32
		parent uint16
		level  int
		id     string
	}
	parse := func(lba uint32, order binary.ByteOrder) []entry {
		b := img[int64(lba)*sectorSize : int64(lba)*sectorSize+int64(size)]
		var es []entry
		for off := 0; off < len(b); {
			n := int(b[off])
			e := entry{lba: order.Uint32(b[off+2:]), parent: order.Uint16(b[off+6:]), id: string(b[off+8 : off+8+n])}
			if len(es) == 0 {
				e.path, e.level = "/", 1
			} else {
				if int(e.parent) < 1 || int(e.parent) > len(es) {
					t.Fatalf("path table entry %d: parent %d not before it", len(es)+1, e.parent)
				}
				p := es[e.parent-1]
				e.path, e.level = path.Join(p.path, e.id), p.level+1
			}
			es = append(es, e)
			off += 8 + n + n%2
		}
		return es
	}
	l := parse(binary.LittleEndian.Uint32(pvd[140:]), binary.LittleEndian)
	m := parse(binary.BigEndian.Uint32(pvd[148:]), binary.BigEndian)
	if len(l) != len(want) {
		t.Fatalf("path table has %d directories, records %d", len(l), len(want))
	}
	for i, e := range l {
		if m[i] != e {
			t.Errorf("entry %d: L %+v, M %+v", i+1, e, m[i])
		}
		if want[e.path] != e.lba {
			t.Errorf("%s: path table sector %d, directory record sector %d", e.path, e.lba, want[e.path])
		}
		if i > 0 {
			p := l[i-1]
			if p.level > e.level || p.level == e.level && (p.parent > e.parent || p.parent == e.parent && !isoLess(p.id, e.id)) {
				t.Errorf("entries %d and %d out of order: %+v, %+v", i, i+1, p, e)
			}
		}
	}
	if l[len(l)-1].level < 10 {
		t.Errorf("deepest level %d: the sample should exceed ISO9660's 8 levels", l[len(l)-1].level)
	}
}

func TestAssignNames(t *testing.T) {
	tests := []struct {
		name     string
		children map[string]nodeKind
		want     map[string]string // Rock Ridge name -> ISO9660 identifier
	}{
		{"8.3 names kept", map[string]nodeKind{"isolinux.cfg": kindFile, "vmlinuz": kindFile, "boot": kindDir},
			map[string]string{"isolinux.cfg": "ISOLINUX.CFG;1", "vmlinuz": "VMLINUZ.;1", "boot": "BOOT"}},
		{"truncated, last dot is the extension", map[string]nodeKind{"data.tar.zst": kindFile, "with space ü.txt": kindFile},
			map[string]string{"data.tar.zst": "DATA_TAR.ZST;1", "with space ü.txt": "WITH_SPA.TXT;1"}},
		{"collisions numbered in name order, natural names first", map[string]nodeKind{
			"virtio_blk.ko": kindFile, "virtio_balloon.ko": kindFile, "virtio_console.ko": kindFile, "VIRTIO_B.KO": kindFile, "VIRTIO_1.KO": kindFile},
			map[string]string{"VIRTIO_B.KO": "VIRTIO_B.KO;1", "VIRTIO_1.KO": "VIRTIO_1.KO;1", "virtio_balloon.ko": "VIRTIO_2.KO;1",
				"virtio_blk.ko": "VIRTIO_3.KO;1", "virtio_console.ko": "VIRTIO_C.KO;1"}},
		{"file and directory share the name space", map[string]nodeKind{"lib": kindDir, "lib.": kindFile},
			map[string]string{"lib": "LIB", "lib.": "LIB1.;1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDir("", nil)
			for n, k := range tt.children {
				d.children[n] = &node{name: n, kind: k, parent: d}
			}
			must(t, assignNames(d))
			for n, w := range tt.want {
				if got := d.children[n].isoName; got != w {
					t.Errorf("%q -> %q, want %q", n, got, w)
				}
			}
			if !sort.SliceIsSorted(d.sorted, func(i, j int) bool { return isoLess(d.sorted[i].isoName, d.sorted[j].isoName) }) {
				t.Error("records not in ISO9660 order")
			}
		})
	}
}

func TestAliases(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16000 bytes
	writeFile(t, filepath.Join(dir, "src", "blob"), string(big), 0o644)
	esp := testESP(8)
	base := Options{VolumeID: "ALIAS", ESP: esp, ModTime: epoch, Files: []Entry{{Src: filepath.Join(dir, "src"), Dst: "/"}}}
	opts := base
	opts.Aliases = []Alias{
		{Dst: "/in-esp", Offset: 2 * sectorSize, Size: 3000},
		{Dst: "/in-blob", Of: "/blob", Offset: 4 * sectorSize, Size: int64(len(big)) - 4*sectorSize},
		{Dst: "/empty", Offset: 0, Size: 0},
	}
	out := build(t, dir, opts)
	im := openImage(t, out)
	blob, err := im.Stat("/blob")
	must(t, err)
	cat, err := im.BootCatalog()
	must(t, err)
	for _, c := range []struct {
		path string
		lba  uint32
		want []byte
	}{
		{"/in-esp", cat.Entries[0].LBA + 2, esp[2*sectorSize : 2*sectorSize+3000]},
		{"/in-blob", blob.LBA + 4, big[4*sectorSize:]},
		{"/empty", 0, nil},
	} {
		fi, err := im.Stat(c.path)
		must(t, err)
		got, err := im.ReadFile(c.path)
		must(t, err)
		if fi.LBA != c.lba || !bytes.Equal(got, c.want) {
			t.Errorf("%s: sector %d (want %d), content equal %v", c.path, fi.LBA, c.lba, bytes.Equal(got, c.want))
		}
	}
	// No bytes stored twice: an alias costs only its directory record.
	plain := filepath.Join(t.TempDir(), "plain.iso")
	must(t, Write(t.Context(), plain, base))
	a, _ := os.Stat(out)
	b, _ := os.Stat(plain)
	if a.Size() != b.Size() {
		t.Errorf("image with aliases %d bytes, without %d", a.Size(), b.Size())
	}
	if _, err := exec.LookPath("xorriso"); err == nil {
		ext := filepath.Join(dir, "x")
		if o, err := exec.Command("xorriso", "-osirrox", "on", "-indev", out, "-extract", "/", ext).CombinedOutput(); err != nil {
			t.Fatalf("xorriso: %v\n%s", err, o)
		}
		got, err := os.ReadFile(filepath.Join(ext, "in-blob"))
		if err != nil || !bytes.Equal(got, big[4*sectorSize:]) {
			t.Errorf("xorriso extract in-blob: %v, equal %v", err, bytes.Equal(got, big[4*sectorSize:]))
		}
	}

	bad := []struct {
		name  string
		alias Alias
		want  string
	}{
		{"unaligned", Alias{Dst: "/a", Offset: 100, Size: 1}, "2048-aligned"},
		{"past the end", Alias{Dst: "/a", Offset: 0, Size: int64(len(esp)) + 1}, "2048-aligned range of the ESP image"},
		{"negative", Alias{Dst: "/a", Offset: -2048, Size: 1}, "2048-aligned"},
		{"missing target", Alias{Dst: "/a", Of: "/nope", Size: 1}, "/nope is not a regular file"},
		{"directory target", Alias{Dst: "/a", Of: "/", Size: 1}, "is not a regular file"},
		{"clashes with payload", Alias{Dst: "/blob", Size: 1}, "already provided"},
		{"relative", Alias{Dst: "a", Size: 1}, "absolute"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			o.Aliases = []Alias{tt.alias}
			err := Write(t.Context(), filepath.Join(t.TempDir(), "x.iso"), o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestContinuationAreas stores a 255-byte name and a long symlink target,
// whose Rock Ridge entries do not fit a directory record and go to
// continuation areas, and reads them back with go-diskfs and xorriso.
func TestContinuationAreas(t *testing.T) {
	requireTool(t, "xorriso")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	// 250 bytes fit one NM entry but not a directory record; 255 need two
	// NM entries (go-diskfs v1.9.4 does not join continued NM entries, so
	// that one is checked with xorriso only).
	name250 := strings.Repeat("m", 246) + ".txt"
	name255 := strings.Repeat("n", 251) + ".txt"
	writeFile(t, filepath.Join(src, name250), "250", 0o644)
	writeFile(t, filepath.Join(src, name255), "255", 0o644)
	// Components longer than one SL component record, and more than one
	// SL entry's worth of them (libisofs reads targets up to 1024 bytes).
	target := strings.Repeat(strings.Repeat("x", 252)+"/", 2) + "./" + strings.Repeat("../", 2) + name255
	must(t, os.Symlink(target, filepath.Join(src, "link")))
	out := build(t, dir, Options{VolumeID: "CE", ESP: testESP(1), ModTime: epoch, Files: []Entry{{Src: src, Dst: "/"}}})
	im := openImage(t, out)
	got, err := im.ReadFile("/" + name250)
	if err != nil || string(got) != "250" {
		t.Errorf("read %s: %v %q", name250, err, got)
	}
	// go-diskfs v1.9.4 also joins SL entries without the separator, so the
	// target is checked with xorriso; it must still see a symlink.
	fi, err := im.Stat("/link")
	must(t, err)
	if fi.Mode&fs.ModeSymlink == 0 {
		t.Errorf("link: mode %v, want a symlink", fi.Mode)
	}
	o, err := exec.Command("xorriso", "-indev", out, "-find", "/", "-exec", "lsdl").CombinedOutput()
	for _, want := range []string{"'/" + name250 + "'", "'/" + name255 + "'", "-> '" + target + "'"} {
		if err != nil || !strings.Contains(string(o), want) {
			t.Errorf("xorriso lsdl lacks %s: %v\n%s", want, err, o)
		}
	}
	ext := filepath.Join(dir, "x")
	if o, err := exec.Command("xorriso", "-osirrox", "on", "-indev", out, "-extract", "/", ext).CombinedOutput(); err != nil {
		t.Fatalf("xorriso extract: %v\n%s", err, o)
	}
	if b, err := os.ReadFile(filepath.Join(ext, name255)); err != nil || string(b) != "255" {
		t.Errorf("xorriso extract %s: %v %q", name255, err, b)
	}
}
