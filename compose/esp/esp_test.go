package esp

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const bootPath = "EFI/BOOT/BOOTX64.EFI"

var testTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func gen(path string, size int64, seed uint64) File {
	return File{Path: path, Data: genReader{size, seed}, Size: size}
}

// buildFile builds an image into a temporary file and returns its path and
// the SHA-256 of its contents.
func buildFile(t *testing.T, files []File, mtime time.Time) (string, [32]byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "esp.img")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	h := sha256.New()
	n, err := Build(io.MultiWriter(out, h), files, mtime)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	st, err := out.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if n != st.Size() {
		t.Errorf("Build returned %d, wrote %d", n, st.Size())
	}
	if n%2048 != 0 {
		t.Errorf("image size %d is not a multiple of 2048", n)
	}
	if want, err := Size(files); err != nil || want != n {
		t.Errorf("Size() = %d, %v; Build wrote %d", want, err, n)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return p, sum
}

// fsck runs fsck.fat read-only, which exits non-zero on any inconsistency.
func fsck(t *testing.T, img string) {
	t.Helper()
	if _, err := exec.LookPath("fsck.fat"); err != nil {
		t.Log("fsck.fat not installed (dosfstools); skipping fsck")
		return
	}
	out, err := exec.Command("fsck.fat", "-n", "-v", img).CombinedOutput()
	if err != nil {
		t.Errorf("fsck.fat -n: %v\n%s", err, out)
	}
}

// mcopy reads a file out of the image with mtools.
func mcopy(t *testing.T, img, path string) ([]byte, bool) {
	t.Helper()
	if _, err := exec.LookPath("mcopy"); err != nil {
		return nil, false
	}
	cmd := exec.Command("mcopy", "-n", "-i", img, "::/"+path, "-")
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=0")
	out, err := cmd.Output()
	if err != nil {
		t.Errorf("mcopy %s: %v", path, err)
	}
	return out, true
}

func readAll(t *testing.T, f File) []byte {
	b := make([]byte, f.Size)
	if f.Size == 0 {
		return nil
	}
	if _, err := f.Data.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuild(t *testing.T) {
	const KiB, MiB = 1 << 10, 1 << 20
	tests := []struct {
		name  string
		files []File
		types []int // FAT types allowed; nil = all
		bits  int   // expected FAT type
	}{
		{name: "one byte", files: []File{gen(bootPath, 1, 1)}, bits: 12},
		{name: "empty file", files: []File{{Path: bootPath}}, bits: 12},
		{name: "1 MiB", files: []File{gen(bootPath, MiB, 2)}, bits: 12},
		{name: "10 MiB", files: []File{gen(bootPath, 10*MiB+123, 3)}, bits: 12},
		// The largest file FAT12 holds with 512-byte clusters, and one byte
		// more, which needs 1 KiB clusters.
		{name: "FAT12 1-sector clusters full", files: []File{gen(bootPath, (fat12MaxClusters-2)*512, 4)}, bits: 12},
		{name: "FAT12 1-sector clusters full+1", files: []File{gen(bootPath, (fat12MaxClusters-2)*512+1, 5)}, bits: 12},
		{name: "several files, lower case", bits: 12, files: []File{
			gen("efi/boot/bootx64.efi", 300*KiB, 6),
			gen("EFI/BOOT/GRUBX64.EFI", 5000, 7),
			gen("loader/entries/a.cfg", 10, 8),
			{Path: "README"},
		}},
		{name: "FAT16 smallest", files: []File{gen(bootPath, 1, 9)}, types: []int{16}, bits: 16},
		{name: "FAT16 20 MiB", files: []File{gen(bootPath, 20*MiB+1, 10)}, types: []int{16}, bits: 16},
		// Near the FAT16 cluster limit with 1 KiB clusters: past it the
		// planner must double the cluster size.
		{name: "FAT16 1 KiB clusters full", files: []File{gen(bootPath, (fat16MaxClusters-2)*1024, 11)}, types: []int{16}, bits: 16},
		// Beyond what FAT12 can address with 32 KiB clusters.
		{name: "FAT12 too small, 130 MiB", files: []File{gen(bootPath, 130*MiB, 12)}, bits: 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.types != nil {
				saved := fatTypes
				fatTypes = tt.types
				defer func() { fatTypes = saved }()
			}
			if testing.Short() && tt.files[0].Size > 20*MiB {
				t.Skip("large image")
			}
			img, sum := buildFile(t, tt.files, testTime)
			fsck(t, img)

			fh, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			st, _ := fh.Stat()
			fi := readImage(t, fh, st.Size())
			if fi.bits != tt.bits {
				t.Errorf("FAT%d, want FAT%d", fi.bits, tt.bits)
			}

			var total int64
			for _, f := range tt.files {
				total += f.Size
				path := strings.ToUpper(f.Path)
				want := readAll(t, f)
				if got := fi.content(t, path); !bytes.Equal(got, want) {
					t.Errorf("%s: content differs (got %d bytes, want %d)", path, len(got), len(want))
				}
				e := fi.files[path]
				if e.WriteDate != 0x58a6 || e.WriteTime != 0x3904 || e.Attr != attrArchive {
					t.Errorf("%s: entry %+v", path, e)
				}
				if got, ok := mcopy(t, img, path); ok && !bytes.Equal(got, want) {
					t.Errorf("mcopy %s: content differs (got %d bytes)", path, len(got))
				}
			}
			// Smallest, within reason: data plus cluster slack per file and
			// directory, FATs, and the FAT16 minimum cluster count.
			slack := int64(len(tt.files)+4)*fi.cs + int64(2*fi.bs.SectorsPerFAT)*512 + 32*KiB
			if tt.bits == 16 {
				slack += fat16MinClusters * fi.cs
			}
			if n := st.Size(); n > total+slack {
				t.Errorf("image is %d bytes for %d bytes of files (slack %d)", n, total, slack)
			}

			// Same input, same bytes.
			if _, again := buildFile(t, tt.files, testTime); again != sum {
				t.Error("second build differs")
			}
		})
	}
}

func TestMtools(t *testing.T) {
	if _, err := exec.LookPath("mdir"); err != nil {
		t.Skip("mtools not installed")
	}
	img, _ := buildFile(t, []File{gen(bootPath, 12345, 1)}, testTime)
	out, err := exec.Command("mdir", "-i", img, "::/EFI/BOOT").CombinedOutput()
	if err != nil {
		t.Fatalf("mdir: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "BOOTX64  EFI     12345 2024-05-06   7:08") {
		t.Errorf("mdir listing lacks BOOTX64.EFI with size and time:\n%s", out)
	}
}

func TestDeterminism(t *testing.T) {
	a := []File{gen(bootPath, 5000, 1)}
	b := []File{gen(bootPath, 5000, 2)} // same size, other content
	build := func(files []File, mtime time.Time) []byte {
		var buf bytes.Buffer
		if _, err := Build(&buf, files, mtime); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	serial := func(img []byte) []byte { return img[39:43] }

	ia := build(a, testTime)
	if !bytes.Equal(ia, build(a, testTime)) {
		t.Error("two builds differ")
	}
	if ib := build(b, testTime); bytes.Equal(serial(ia), serial(ib)) {
		t.Error("volume serial does not depend on content")
	}
	if ic := build(a, testTime.Add(time.Hour)); bytes.Equal(serial(ia), serial(ic)) || bytes.Equal(ia, ic) {
		t.Error("mtime does not change the image")
	}
	// File order in the argument does not matter.
	two := []File{gen("B.EFI", 10, 1), gen("A.EFI", 20, 2)}
	if !bytes.Equal(build(two, testTime), build([]File{two[1], two[0]}, testTime)) {
		t.Error("image depends on the order files are given in")
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		files []File
		want  string
	}{
		{"long name", []File{gen("EFI/BOOT/BOOTX64LONG.EFI", 1, 1)}, "not an 8.3 name"},
		{"long extension", []File{gen("A.EFIX", 1, 1)}, "not an 8.3 name"},
		{"two dots", []File{gen("A.B.C", 1, 1)}, "not an 8.3 name"},
		{"bad character", []File{gen("A B.EFI", 1, 1)}, "not allowed"},
		{"leading slash", []File{gen("/EFI/A", 1, 1)}, "invalid path component"},
		{"dot dot", []File{gen("EFI/../A", 1, 1)}, "invalid path component"},
		{"duplicate", []File{gen("efi/a", 1, 1), gen("EFI/A", 1, 1)}, "given twice"},
		{"file and directory", []File{gen("EFI", 1, 1), gen("EFI/A", 1, 1)}, "is a file"},
		{"directory and file", []File{gen("EFI/A", 1, 1), gen("EFI", 1, 1)}, "also a directory"},
		{"too large", []File{gen("A", 3<<30, 1)}, "too large"},
		{"negative size", []File{{Path: "A", Size: -1}}, "does not fit"},
		{"no data", []File{{Path: "A", Size: 1}}, "no data"},
		{"short data", []File{{Path: "A", Data: strings.NewReader("abc"), Size: 10}}, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := Build(&buf, tt.files, testTime)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error %v, want one containing %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

func TestDOSDateTime(t *testing.T) {
	tests := []struct {
		in           time.Time
		date, tm     uint16
		createTenths uint8
	}{
		{time.Unix(0, 0), 0x0021, 0, 0}, // before 1980: clamped to 1980-01-01
		{testTime, 0x58a6, 0x3904, 100},
		{time.Date(2024, 5, 6, 9, 8, 9, 500_000_000, time.FixedZone("x", 2*3600)), 0x58a6, 0x3904, 150},
		{time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), 0xff9f, 0xbf7d, 0},
	}
	for _, tt := range tests {
		d, tm, c := dosDateTime(tt.in)
		if d != tt.date || tm != tt.tm || c != tt.createTenths {
			t.Errorf("dosDateTime(%v) = %#x %#x %d, want %#x %#x %d", tt.in, d, tm, c, tt.date, tt.tm, tt.createTenths)
		}
	}
}
