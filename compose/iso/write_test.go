package iso

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDeterministic(t *testing.T) {
	// Two builds that differ in everything the output must not depend on:
	// source and workspace location, host mtimes, non-exec mode bits,
	// wall clock and local time zone.
	build1 := func(dir string, fileMode os.FileMode, hostTime time.Time) string {
		src := filepath.Join(dir, "src")
		samplePayload(t, src, fileMode)
		_ = filepath.Walk(src, func(p string, _ fs.FileInfo, _ error) error {
			_ = os.Chtimes(p, hostTime, hostTime)
			return nil
		})
		return build(t, dir, Options{VolumeID: "TINYBOOT", ESP: testESP(16), ModTime: epoch,
			Files: []Entry{{Src: src, Dst: "/"}, {Src: filepath.Join(src, "bin", "app"), Dst: "/usr/bin/app2"}}})
	}
	a := build1(t.TempDir(), 0o644, time.Unix(1000, 0))

	oldLocal := time.Local
	time.Local = time.FixedZone("test", 5*3600+30*60)
	t.Cleanup(func() { time.Local = oldLocal })
	time.Sleep(1100 * time.Millisecond) // a different wall-clock second
	b := build1(t.TempDir(), 0o600, time.Unix(2000000000, 0))
	time.Local = oldLocal

	if ha, hb := sha256File(t, a), sha256File(t, b); ha != hb {
		ba, _ := os.ReadFile(a)
		bb, _ := os.ReadFile(b)
		for i := 16 * sectorSize; i < min(len(ba), len(bb)); i++ {
			if ba[i] != bb[i] {
				t.Fatalf("builds differ: %s vs %s, sizes %d/%d, first difference at byte %d (sector %d)", ha, hb, len(ba), len(bb), i, i/sectorSize)
			}
		}
		t.Fatalf("builds differ: %s vs %s, sizes %d/%d", ha, hb, len(ba), len(bb))
	}

	// And the test can fail: a different ModTime must change the image.
	dir := t.TempDir()
	samplePayload(t, filepath.Join(dir, "src"), 0o644)
	c := build(t, dir, Options{VolumeID: "TINYBOOT", ESP: testESP(16), ModTime: epoch.Add(time.Hour),
		Files: []Entry{{Src: filepath.Join(dir, "src"), Dst: "/"}, {Src: filepath.Join(dir, "src", "bin", "app"), Dst: "/usr/bin/app2"}}})
	if sha256File(t, a) == sha256File(t, c) {
		t.Fatal("different ModTime gave an identical image")
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	samplePayload(t, src, 0o600)
	single := filepath.Join(dir, "single.bin")
	big := bytes.Repeat([]byte("0123456789abcdef"), 10000) // spans many sectors, not sector aligned
	big = append(big, 'x')
	if err := os.WriteFile(single, big, 0o600); err != nil {
		t.Fatal(err)
	}
	out := build(t, dir, Options{VolumeID: "TB_ROUND_TRIP_1", ESP: testESP(8), ModTime: epoch,
		Files: []Entry{{Src: src, Dst: "/"}, {Src: single, Dst: "/data/deep/er/single.bin"}, {Src: src, Dst: "/copy"}}})

	want := map[string]struct {
		content string
		mode    fs.FileMode
	}{
		"/etc/tinyboot/spec.json": {`{"v":1}`, 0o444},
		"/bin/app":                {"#!/bin/sh\necho app\n", 0o555},
		"/copy/bin/app":           {"#!/bin/sh\necho app\n", 0o555},
		"/lib/modules/6.1.0/kernel/drivers/virtio_net.ko":                     {"module bytes", 0o444},
		"/lib/modules/6.1.0/kernel/drivers/net/ethernet/intel/e1000/e1000.ko": {"e1000", 0o444},
		"/docs/with space ü.txt":                                              {"unicode name", 0o444},
		"/collide/data.tar.zst":                                               {"data.tar.zst", 0o444},
		"/collide/CONFIG00.JSO":                                               {"CONFIG00.JSO", 0o444},
		"/collide/configuration-beta.json":                                    {"configuration-beta.json", 0o444},
		"/docs/empty":                                                         {"", 0o444},
		"/a-rather-long-file-name.with.dots.txt":                              {"long name", 0o444},
		"/data/deep/er/single.bin":                                            {string(big), 0o444},
	}
	im := openImage(t, out)
	if im.Label() != "TB_ROUND_TRIP_1" {
		t.Errorf("label %q", im.Label())
	}
	files, err := im.Files()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]FileInfo{}
	for _, f := range files {
		seen[f.Path] = f
		if f.Mode.IsDir() && f.Mode.Perm() != 0o555 {
			t.Errorf("%s: dir mode %v, want 0555", f.Path, f.Mode)
		}
		if strings.Contains(strings.ToUpper(f.Path), "TBESP") || strings.Contains(f.Path, "boot.cat") {
			t.Errorf("hidden boot file visible: %s", f.Path)
		}
	}
	for p, w := range want {
		fi, ok := seen[p]
		if !ok {
			t.Errorf("%s missing from listing", p)
			continue
		}
		if fi.Mode != w.mode || fi.Size != int64(len(w.content)) {
			t.Errorf("%s: mode %v size %d, want %v %d", p, fi.Mode, fi.Size, w.mode, len(w.content))
		}
		got, err := im.ReadFile(p)
		if err != nil {
			t.Errorf("ReadFile %s: %v", p, err)
		} else if string(got) != w.content {
			t.Errorf("%s: content differs (%d bytes vs %d)", p, len(got), len(w.content))
		}
	}

	// Cross-check with xorriso's independent reader: extract everything and
	// compare bytes, and check owners/modes from its listing.
	if _, err := exec.LookPath("xorriso"); err != nil {
		t.Skip("xorriso not installed")
	}
	ext := filepath.Join(dir, "extract")
	if o, err := exec.Command("xorriso", "-osirrox", "on", "-indev", out, "-extract", "/", ext).CombinedOutput(); err != nil {
		t.Fatalf("xorriso extract: %v\n%s", err, o)
	}
	for p, w := range want {
		got, err := os.ReadFile(filepath.Join(ext, p))
		if err != nil || string(got) != w.content {
			t.Errorf("xorriso extract %s: err %v, content match %v", p, err, string(got) == w.content)
		}
	}
	o, err := exec.Command("xorriso", "-indev", out, "-find", "/", "-exec", "lsdl").CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso lsdl: %v\n%s", err, o)
	}
	for _, line := range strings.Split(string(o), "\n") {
		if !strings.Contains(line, "'/") || strings.HasPrefix(line, "Drive") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || fields[2] != "0" || fields[3] != "0" {
			t.Errorf("xorriso: owner not 0 0: %s", line)
		}
		if !strings.Contains(line, "May  6  2024") {
			t.Errorf("xorriso: time not ModTime: %s", line)
		}
	}
	if !strings.Contains(string(o), "'/bin/spec' -> '../etc/tinyboot/spec.json'") {
		t.Errorf("xorriso listing lacks symlink:\n%s", o)
	}
}

func TestSymlinkStored(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	samplePayload(t, src, 0o644)
	// A dangling in-tree link is fine; it is stored as written.
	if err := os.Symlink("does/not/exist", filepath.Join(src, "dangling")); err != nil {
		t.Fatal(err)
	}
	im := openImage(t, build(t, dir, Options{VolumeID: "X", ESP: testESP(1), Files: []Entry{{Src: src, Dst: "/"}}}))
	for p, target := range map[string]string{"/bin/spec": "../etc/tinyboot/spec.json", "/dangling": "does/not/exist"} {
		fi, err := im.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode&fs.ModeSymlink == 0 || fi.LinkTarget != target {
			t.Errorf("%s: mode %v target %q, want symlink -> %q", p, fi.Mode, fi.LinkTarget, target)
		}
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, src string) // builds src tree
		opts    func(o *Options)
		wantErr []string // substrings the error must contain
	}{
		{
			name: "escaping relative symlink",
			setup: func(t *testing.T, src string) {
				writeFile(t, filepath.Join(src, "sub", "f"), "x", 0o644)
				must(t, os.Symlink("../../outside", filepath.Join(src, "sub", "evil")))
			},
			wantErr: []string{filepath.Join("sub", "evil"), "../../outside", "outside the source tree"},
		},
		{
			name:    "absolute symlink",
			setup:   func(t *testing.T, src string) { must(t, os.Symlink("/etc/passwd", filepath.Join(src, "abs"))) },
			wantErr: []string{"abs", "/etc/passwd", "outside the source tree"},
		},
		{
			// Lexically "d/.." is ".", but d -> "." makes it the parent.
			name: "escape through in-tree link",
			setup: func(t *testing.T, src string) {
				must(t, os.Symlink(".", filepath.Join(src, "d")))
				must(t, os.Symlink("d/..", filepath.Join(src, "sneaky")))
			},
			wantErr: []string{"sneaky", "d/..", "outside the source tree"},
		},
		{
			name: "link via absolute intermediate",
			setup: func(t *testing.T, src string) {
				must(t, os.Mkdir(filepath.Join(src, "x"), 0o755))
				must(t, os.Symlink("/tmp", filepath.Join(src, "x", "t")))
				must(t, os.Symlink("x/t/foo", filepath.Join(src, "via")))
			},
			wantErr: []string{"outside the source tree"},
		},
		{
			name:    "fifo",
			setup:   func(t *testing.T, src string) { must(t, syscall.Mkfifo(filepath.Join(src, "pipe"), 0o644)) },
			wantErr: []string{"pipe", "special file"},
		},
		{
			name: "duplicate destination",
			setup: func(t *testing.T, src string) {
				writeFile(t, filepath.Join(src, "f"), "x", 0o644)
			},
			opts: func(o *Options) {
				o.Files = append(o.Files, Entry{Src: filepath.Join(o.Files[0].Src, "f"), Dst: "/f"})
			},
			wantErr: []string{"already provided"},
		},
		{
			name:    "bad volume id",
			setup:   func(t *testing.T, src string) {},
			opts:    func(o *Options) { o.VolumeID = "tinyboot" },
			wantErr: []string{"d-character"},
		},
		{
			name:    "volume id too long",
			setup:   func(t *testing.T, src string) {},
			opts:    func(o *Options) { o.VolumeID = strings.Repeat("A", 33) },
			wantErr: []string{"length"},
		},
		{
			name:    "ESP not sector multiple",
			setup:   func(t *testing.T, src string) {},
			opts:    func(o *Options) { o.ESP = make([]byte, 3000) },
			wantErr: []string{"ESP image"},
		},
		{
			name:    "relative destination",
			setup:   func(t *testing.T, src string) {},
			opts:    func(o *Options) { o.Files[0].Dst = "boot" },
			wantErr: []string{"absolute"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			must(t, os.Mkdir(src, 0o755))
			tt.setup(t, src)
			work := filepath.Join(dir, "work")
			must(t, os.Mkdir(work, 0o755))
			opts := Options{VolumeID: "OK", ESP: testESP(1), Files: []Entry{{Src: src, Dst: "/"}}, WorkDir: work}
			if tt.opts != nil {
				tt.opts(&opts)
			}
			err := Write(context.Background(), filepath.Join(dir, "out.iso"), opts)
			if err == nil {
				t.Fatal("Write succeeded, want error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			// Write needs no temporary space: nothing may be left in the work dir.
			left, _ := os.ReadDir(work)
			if len(left) != 0 {
				t.Errorf("files left in the work dir: %v", left)
			}
		})
	}
}

func TestCancelled(t *testing.T) {
	dir := t.TempDir()
	samplePayload(t, filepath.Join(dir, "src"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Write(ctx, filepath.Join(dir, "out.iso"), Options{VolumeID: "X", ESP: testESP(1),
		Files: []Entry{{Src: filepath.Join(dir, "src"), Dst: "/"}}, WorkDir: dir})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestWriteTo(t *testing.T) {
	dir := t.TempDir()
	samplePayload(t, filepath.Join(dir, "src"), 0o644)
	opts := Options{VolumeID: "X", ESP: testESP(2), ModTime: epoch,
		Files: []Entry{{Src: filepath.Join(dir, "src"), Dst: "/"}}, WorkDir: dir}
	var buf bytes.Buffer
	n, err := WriteTo(context.Background(), &buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("n = %d, buffer %d", n, buf.Len())
	}
	file, err := os.ReadFile(build(t, dir, opts))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, buf.Bytes()) {
		t.Error("WriteTo and Write outputs differ")
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".tbiso-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
