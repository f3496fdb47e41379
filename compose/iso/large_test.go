package iso

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

const largeChildEnv = "TBISO_LARGE_CHILD"

// TestLargeSparsePayload copies a 300 MB sparse file and checks that the
// build streams it: heap allocations and peak RSS stay far below the
// file's size. Peak RSS is per process, so the build runs in a fresh
// child process of this test binary where other tests' allocations do not
// count.
func TestLargeSparsePayload(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 300 MB image")
	}
	if os.Getenv(largeChildEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLargeSparsePayload$", "-test.v")
		cmd.Env = append(os.Environ(), largeChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("child:\n%s", out)
		if err != nil {
			t.Fatalf("child test failed: %v", err)
		}
		return
	}
	const size = 300 << 20
	dir := t.TempDir()
	src := filepath.Join(dir, "big.img")
	f, err := os.Create(src)
	must(t, err)
	// Some real data at both ends and the middle so the copy is checked,
	// holes everywhere else.
	for _, off := range []int64{0, size / 2, size - 4096} {
		_, err := f.WriteAt(bytes.Repeat([]byte{byte(off>>20 | 1)}, 4096), off)
		must(t, err)
	}
	must(t, f.Truncate(size))
	must(t, f.Close())

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ioBefore := procIO(t)
	out := build(t, dir, Options{VolumeID: "BIG", ESP: testESP(16), ModTime: epoch,
		Files: []Entry{{Src: src, Dst: "/data/big.img"}}})
	ioAfter := procIO(t)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// Each payload byte is read once and written once: a workspace copy
	// would double both.
	read, written := ioAfter["rchar"]-ioBefore["rchar"], ioAfter["wchar"]-ioBefore["wchar"]
	t.Logf("bytes read during build: %d MiB, written: %d MiB (payload %d MiB)", read>>20, written>>20, size>>20)
	if limit := int64(size + size/10); read > limit || written > limit {
		t.Errorf("build read %d and wrote %d bytes for a %d-byte payload: not streaming", read, written, size)
	}
	// Not getrusage: its ru_maxrss survives exec, and Go starts children
	// with vfork, so it reports the parent's peak. VmHWM belongs to this
	// process's own address space.
	maxRSS := vmHWM(t)

	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("heap allocated during build: %d MiB; process peak RSS: %d MiB", allocated>>20, maxRSS>>20)
	if allocated > 100<<20 {
		t.Errorf("build allocated %d MiB for a %d MiB payload: not streaming", allocated>>20, size>>20)
	}
	if maxRSS > 100<<20 {
		t.Errorf("peak RSS %d MiB exceeds 100 MiB", maxRSS>>20)
	}

	im := openImage(t, out)
	fi, err := im.Stat("/data/big.img")
	must(t, err)
	if fi.Size != size {
		t.Fatalf("size in image %d, want %d", fi.Size, size)
	}
	// Compare by streaming hashes, not by loading either copy.
	hash := func(r io.Reader) [32]byte {
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			t.Fatal(err)
		}
		var s [32]byte
		copy(s[:], h.Sum(nil))
		return s
	}
	in, err := os.Open(src)
	must(t, err)
	defer in.Close()
	got := hash(io.NewSectionReader(im.ReaderAt(), int64(fi.LBA)*sectorSize, size))
	if got != hash(in) {
		t.Error("payload bytes in image differ from source")
	}
}

// procIO returns the process's I/O counters from /proc/self/io (rchar and
// wchar count bytes passed to read and write system calls).
func procIO(t *testing.T) map[string]int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	must(t, err)
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			must(t, err)
			out[k] = n
		}
	}
	return out
}

// vmHWM returns the process's peak resident set size from /proc.
func vmHWM(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	must(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			must(t, err)
			return kb * 1024
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
