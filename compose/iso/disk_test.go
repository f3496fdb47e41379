package iso

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDiskSize checks an image written as a disk of a given size: the
// file is that size, the GPT's backup lies in its last blocks and both
// copies verify, the ISO volume and the ESP are where they were, and the
// free space is a hole, not written zeros.
func TestDiskSize(t *testing.T) {
	dir := t.TempDir()
	samplePayload(t, filepath.Join(dir, "src"), 0o644)
	esp := testESP(64)
	opts := Options{VolumeID: "DISK", ESP: esp, ModTime: epoch, Files: []Entry{{Src: filepath.Join(dir, "src"), Dst: "/"}}}
	plain := build(t, dir, opts)
	plainBytes, err := os.ReadFile(plain)
	must(t, err)

	if n, err := Size(t.Context(), opts); err != nil || n != int64(len(plainBytes)) {
		t.Errorf("Size: %d, %v; the image written is %d bytes", n, err, len(plainBytes))
	}
	const size = 256 << 20
	opts.DiskSize = size
	disk := filepath.Join(dir, "disk.img")
	must(t, Write(t.Context(), disk, opts))
	fi, err := os.Stat(disk)
	must(t, err)
	if fi.Size() != size {
		t.Fatalf("disk is %d bytes, want %d", fi.Size(), size)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Blocks*512 > 4<<20 {
		t.Errorf("disk occupies %d bytes on the host: free space written instead of left a hole", st.Blocks*512)
	}
	im := openImage(t, disk)
	g, err := im.GPT()
	must(t, err)
	if g.BackupLBA != size/512-1 {
		t.Errorf("backup GPT header at LBA %d, want the disk's last, %d", g.BackupLBA, size/512-1)
	}
	espGot, err := im.ESP()
	must(t, err)
	if !bytes.Equal(espGot, esp) {
		t.Error("ESP differs on the disk")
	}
	// Everything up to the primary GPT's end and from the volume
	// descriptors to the end of the volume is the plain image's.
	b, err := os.ReadFile(disk)
	must(t, err)
	vol := len(plainBytes) - 2048*((1+32+3)/4)
	if !bytes.Equal(b[firstVDSector*sectorSize:vol], plainBytes[firstVDSector*sectorSize:vol]) {
		t.Error("ISO volume differs between the plain image and the disk")
	}

	opts.DiskSize = 64 << 10
	err = Write(t.Context(), filepath.Join(dir, "small.img"), opts)
	if err == nil || !strings.Contains(err.Error(), "needs at least") {
		t.Errorf("disk smaller than the image: %v, want an error", err)
	}
	opts.DiskSize = 1000
	if err := opts.Validate(); err == nil {
		t.Error("disk size not a multiple of 512 accepted")
	}
}
