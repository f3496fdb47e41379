package iso

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestHybridLayout(t *testing.T) {
	tests := []struct {
		name    string
		sectors int // ESP size in 2048-byte sectors
	}{
		{"tiny ESP", 1},
		{"4 MiB ESP", 2048},
		// Over 32 MiB the catalog's 16-bit sector count saturates to 0 and
		// firmware must take the size from elsewhere; the GPT still covers it.
		{"33 MiB ESP", 33 * 512},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			samplePayload(t, filepath.Join(dir, "src"), 0o644)
			esp := testESP(tt.sectors)
			out := build(t, dir, Options{VolumeID: "HYBRID", ESP: esp, ModTime: epoch,
				Files: []Entry{{Src: filepath.Join(dir, "src"), Dst: "/"}}})
			im := openImage(t, out)
			if im.Size()%sectorSize != 0 {
				t.Fatalf("image size %d not a multiple of %d", im.Size(), sectorSize)
			}

			cat, err := im.BootCatalog()
			if err != nil {
				t.Fatal(err)
			}
			if cat.Platform != PlatformEFI || len(cat.Entries) != 1 {
				t.Fatalf("catalog %+v: want one EFI entry", cat)
			}
			e := cat.Entries[0]
			wantCount := uint16(len(esp) / 512)
			if len(esp)/512 > 0xffff {
				wantCount = 0
			}
			if !e.Bootable || e.Platform != PlatformEFI || e.Emulation != 0 || e.SectorCount != wantCount {
				t.Errorf("entry %+v: want bootable EFI no-emulation, %d sectors", e, wantCount)
			}
			got := make([]byte, len(esp))
			if _, err := im.ReaderAt().ReadAt(got, int64(e.LBA)*sectorSize); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, esp) {
				t.Fatalf("bytes at catalog LBA %d are not the ESP", e.LBA)
			}

			g, err := im.GPT()
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Partitions) != 1 {
				t.Fatalf("partitions %+v: want 1", g.Partitions)
			}
			p := g.Partitions[0]
			if p.Type != TypeEFISystem || p.Offset() != int64(e.LBA)*sectorSize || p.Size() != int64(len(esp)) {
				t.Errorf("partition %+v (offset %d size %d): want EFI System at %d size %d",
					p, p.Offset(), p.Size(), int64(e.LBA)*sectorSize, len(esp))
			}
			if g.BackupLBA != uint64(im.Size()/lbaSize-1) {
				t.Errorf("backup header at LBA %d, want last LBA %d", g.BackupLBA, im.Size()/lbaSize-1)
			}
			if p.GUID.IsZero() || g.DiskGUID.IsZero() || p.GUID == g.DiskGUID {
				t.Errorf("GUIDs disk %s part %s: want distinct non-zero", g.DiskGUID, p.GUID)
			}
			espBytes, err := im.ESP()
			if err != nil || !bytes.Equal(espBytes, esp) {
				t.Errorf("Image.ESP: equal %v, err %v", bytes.Equal(espBytes, esp), err)
			}
			// The ISO volume must end before the backup GPT.
			var vol uint32
			pvd := make([]byte, sectorSize)
			if _, err := im.ReaderAt().ReadAt(pvd, firstVDSector*sectorSize); err != nil {
				t.Fatal(err)
			}
			vol = binary.LittleEndian.Uint32(pvd[vdVolumeSize:])
			if int64(vol)*sectorSize > int64(g.LastUsableLBA+1)*lbaSize {
				t.Errorf("ISO volume (%d sectors) overlaps backup GPT (last usable LBA %d)", vol, g.LastUsableLBA)
			}

			if _, err := exec.LookPath("sgdisk"); err == nil {
				o, err := exec.Command("sgdisk", "-v", out).CombinedOutput()
				if err != nil || !strings.Contains(string(o), "No problems found") {
					t.Errorf("sgdisk -v: %v\n%s", err, o)
				}
			}
			if _, err := exec.LookPath("fdisk"); err == nil {
				o, err := exec.Command("fdisk", "-l", out).CombinedOutput()
				if err != nil || !strings.Contains(string(o), "Disklabel type: gpt") ||
					!strings.Contains(string(o), "EFI System") ||
					!strings.Contains(string(o), "Disk identifier: "+g.DiskGUID.String()) {
					t.Errorf("fdisk -l: %v\n%s", err, o)
				}
			}
			if _, err := exec.LookPath("xorriso"); err == nil {
				o, err := exec.Command("xorriso", "-indev", out, "-report_el_torito", "plain").CombinedOutput()
				if err != nil || !strings.Contains(string(o), "UEFI  y   none") {
					t.Errorf("xorriso -report_el_torito: %v\n%s", err, o)
				}
			}
		})
	}
}

func TestGPTCorruptionDetected(t *testing.T) {
	dir := t.TempDir()
	out := build(t, dir, Options{VolumeID: "X", ESP: testESP(4), ModTime: epoch})
	clean, err := os.ReadFile(out)
	must(t, err)
	size := int64(len(clean))
	tests := []struct {
		name string
		off  int64
		want string
	}{
		{"primary header", lbaSize + 60, "primary: header at LBA 1: CRC32"},
		{"primary entries", 2 * lbaSize, "primary: entries at LBA 2: CRC32"},
		{"backup header", size - lbaSize + 60, "backup: header"},
		{"backup entries", size - 33*lbaSize + 5, "backup: entries"},
		{"MBR signature", 511, "no MBR boot signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(clean)
			b[tt.off] ^= 0xff
			_, err := ReadGPT(bytes.NewReader(b), size)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := ReadGPT(bytes.NewReader(clean), size); err != nil {
		t.Errorf("clean image: %v", err)
	}
}

func TestGUID(t *testing.T) {
	s := "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	g := mustParseGUID(s)
	// On-disk (mixed-endian) form as in the UEFI spec.
	want := []byte{0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b}
	if !bytes.Equal(g[:], want) || g.String() != s {
		t.Errorf("GUID %x / %s", g[:], g)
	}
	for _, bad := range []string{"", "C12A7328F81F11D2BA4B00A0C93EC93B", "G12A7328-F81F-11D2-BA4B-00A0C93EC93B"} {
		if _, err := ParseGUID(bad); err == nil {
			t.Errorf("ParseGUID(%q) succeeded", bad)
		}
	}
	if TypeName(TypeEFISystem) != "EFI System" || TypeName(GUID{1}) != (GUID{1}).String() {
		t.Error("TypeName")
	}
	d := derivedGUID([]byte("x"), "disk")
	if d != derivedGUID([]byte("x"), "disk") || d == derivedGUID([]byte("x"), "esp") || d == derivedGUID([]byte("y"), "disk") {
		t.Error("derivedGUID not a deterministic function of digest and label")
	}
	if d[7]>>4 != 4 || d[8]>>6 != 2 {
		t.Errorf("derived GUID %s lacks version 4 / RFC 4122 variant bits", d)
	}
}

// FuzzReaders feeds arbitrary bytes to the hand-written parsers; they must
// return errors, never panic. Seeds are whole images, so run it with
// -fuzzminimizetime=1x or minimisation of 70 KB inputs stalls the workers.
func FuzzReaders(f *testing.F) {
	dir := f.TempDir()
	out := filepath.Join(dir, "seed.iso")
	if err := Write(f.Context(), out, Options{VolumeID: "SEED", ESP: testESP(1), WorkDir: dir}); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(out)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(make([]byte, 40*1024))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		_, _ = ReadGPT(r, int64(len(b)))
		_, _ = ReadBootCatalog(r)
	})
}

// TestImageCorruptNoPanic mutates directory and descriptor sectors of a
// real image and reads it through Image: errors are fine, panics are not
// (go-diskfs panics on some malformed records; Image must convert them).
// A seeded loop rather than part of FuzzReaders: go-diskfs allocates
// whatever size a record claims, which makes fuzz workers die of memory
// pressure on this shared machine rather than report findings.
func TestImageCorruptNoPanic(t *testing.T) {
	dir := t.TempDir()
	seed := sampleImage(t, "SEED")
	rng := rand.New(rand.NewSource(1))
	p := filepath.Join(dir, "mutated.iso")
	opened := 0
	for i := 0; i < 1500; i++ {
		b := bytes.Clone(seed)
		for range 1 + rng.Intn(6) {
			b[firstVDSector*sectorSize+rng.Intn(16*sectorSize)] = byte(rng.Intn(256))
		}
		must(t, os.WriteFile(p, b, 0o644))
		im, err := Open(p)
		if err != nil {
			continue
		}
		opened++
		files, _ := im.Files()
		for _, fi := range files {
			if fi.Mode.IsRegular() && fi.Size < 1<<20 {
				_, _ = im.ReadFile(fi.Path)
			}
		}
		_, _ = im.ESP()
		im.Close()
	}
	if opened == 0 {
		t.Fatal("no mutated image opened; the test exercises nothing")
	}
}
