package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"4096", 4096, false},
		{"4K", 4 << 10, false},
		{"256M", 256 << 20, false},
		{"256m", 256 << 20, false},
		{"2G", 2 << 30, false},
		{"1.5G", 0, true},
		{"-1M", 0, true},
		{"", 0, true},
		{"12MB", 0, true},
		{"99999999999999999G", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestDiskCreateOptionsCheck(t *testing.T) {
	tests := []struct {
		name string
		o    diskCreateOptions
		want string // error substring; "" for valid
	}{
		{"btrfs default", diskCreateOptions{label: "tinyboot", size: "256M", fs: "btrfs"}, ""},
		{"btrfs long label", diskCreateOptions{label: strings.Repeat("a", 255), size: "256M", fs: "btrfs"}, ""},
		{"btrfs label too long", diskCreateOptions{label: strings.Repeat("a", 256), size: "256M", fs: "btrfs"}, "at most 255"},
		{"btrfs too small", diskCreateOptions{label: "x", size: "100M", fs: "btrfs"}, "at least 109 MiB"},
		{"ext4 16 bytes", diskCreateOptions{label: "0123456789abcdef", size: "8M", fs: "ext4"}, ""},
		{"ext4 label too long", diskCreateOptions{label: "0123456789abcdefg", size: "8M", fs: "ext4"}, "at most 16"},
		{"ext4 too small", diskCreateOptions{label: "x", size: "512K", fs: "ext4"}, "at least 1 MiB"},
		{"empty label", diskCreateOptions{label: "", size: "8M", fs: "ext4"}, "empty"},
		{"control char", diskCreateOptions{label: "a\nb", size: "8M", fs: "ext4"}, "control"},
		{"odd size", diskCreateOptions{label: "x", size: "1000001", fs: "ext4"}, "multiple of 4 KiB"},
		{"bad fs", diskCreateOptions{label: "x", size: "8M", fs: "xfs"}, "btrfs or ext4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.o.check()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// execDisk runs `disk ARGS...` on a fresh command tree and returns the
// exit code main would use.
func execDisk(t *testing.T, args ...string) (int, error) {
	t.Helper()
	cmd := newDiskCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	if err == nil {
		return exitOK, nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, err
	}
	return exitUsage, err
}

// superblock reads the magic, UUID and label of a btrfs or ext4 image, at
// the offsets the on-disk formats define.
type superblock struct {
	magic bool
	uuid  uuid.UUID
	label string
}

func readSuperblock(t *testing.T, path, fsName string) superblock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sb superblock
	switch fsName {
	case "ext4":
		b := make([]byte, 1024)
		if _, err := f.ReadAt(b, 1024); err != nil {
			t.Fatal(err)
		}
		sb.magic = binary.LittleEndian.Uint16(b[0x38:]) == 0xef53
		copy(sb.uuid[:], b[0x68:0x78])
		sb.label = string(bytes.TrimRight(b[0x78:0x88], "\x00"))
	case "btrfs":
		b := make([]byte, 4096)
		if _, err := f.ReadAt(b, 64<<10); err != nil {
			t.Fatal(err)
		}
		sb.magic = string(b[0x40:0x48]) == "_BHRfS_M"
		copy(sb.uuid[:], b[0x20:0x30])
		sb.label = string(bytes.TrimRight(b[0x12b:0x12b+256], "\x00"))
	}
	return sb
}

func needTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := findSbinTool(name, pkg); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

func TestDiskCreate(t *testing.T) {
	for _, tt := range []struct{ fs, size, label string }{
		{"btrfs", "128M", "tinyboot"},
		{"ext4", "16M", "data-vol"},
	} {
		t.Run(tt.fs, func(t *testing.T) {
			needTool(t, diskFilesystems[tt.fs].tool, diskFilesystems[tt.fs].pkg)
			dir := t.TempDir()
			img := filepath.Join(dir, "vol.img")
			if code, err := execDisk(t, "create", img, "--fs", tt.fs, "--size", tt.size, "--label", tt.label); code != 0 {
				t.Fatalf("create: %d %v", code, err)
			}
			fi, err := os.Stat(img)
			if err != nil {
				t.Fatal(err)
			}
			size, _ := parseSize(tt.size)
			if fi.Size() != size {
				t.Errorf("size %d, want %d", fi.Size(), size)
			}
			sb := readSuperblock(t, img, tt.fs)
			wantUUID := uuid.NewSHA1(diskUUIDSpace, []byte(tt.fs+"\x00"+tt.label+"\x00"+strconv.FormatInt(size, 10)))
			if !sb.magic || sb.label != tt.label || sb.uuid != wantUUID {
				t.Errorf("superblock %+v, want label %q uuid %s", sb, tt.label, wantUUID)
			}
			if blkid, err := findSbinTool("blkid", "util-linux"); err == nil {
				out, err := exec.Command(blkid, "-o", "value", "-s", "LABEL", img).Output()
				if err != nil || strings.TrimSpace(string(out)) != tt.label {
					t.Errorf("blkid LABEL = %q, %v", out, err)
				}
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}

			// No overwrite without --force, and the file is untouched.
			before := sha(t, img)
			code, err := execDisk(t, "create", img, "--fs", tt.fs, "--size", tt.size, "--label", "other")
			if code != exitInvalid || err == nil || !strings.Contains(err.Error(), "--force") {
				t.Errorf("second create: %d %v; want exit 1 mentioning --force", code, err)
			}
			if sha(t, img) != before {
				t.Error("refused create changed the file")
			}
			// --force replaces it.
			if code, err := execDisk(t, "create", img, "--fs", tt.fs, "--size", tt.size, "--label", "other", "--force"); code != 0 {
				t.Fatalf("forced create: %d %v", code, err)
			}
			if sb := readSuperblock(t, img, tt.fs); sb.label != "other" {
				t.Errorf("after --force label %q, want other", sb.label)
			}
		})
	}
}

func TestDiskCreateExt4Reproducible(t *testing.T) {
	needTool(t, "mkfs.ext4", "e2fsprogs")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img")
	if code, err := execDisk(t, "create", a, "--fs", "ext4", "--size", "8M"); code != 0 {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // a clock-derived field would now differ
	if code, err := execDisk(t, "create", b, "--fs", "ext4", "--size", "8M"); code != 0 {
		t.Fatal(err)
	}
	if sha(t, a) != sha(t, b) {
		t.Error("two ext4 volumes from the same options differ")
	}
}

func TestDiskCreateErrors(t *testing.T) {
	dir := t.TempDir()
	if code, _ := execDisk(t, "create", filepath.Join(dir, "x.img"), "--size", "10M"); code != exitUsage {
		t.Errorf("btrfs 10M: exit %d, want %d", code, exitUsage)
	}
	if code, _ := execDisk(t, "create", filepath.Join(dir, "x.img"), "--fs", "ext4", "--label", "much-too-long-label"); code != exitUsage {
		t.Errorf("long ext4 label: exit %d, want %d", code, exitUsage)
	}
	// A directory is never replaced, even with --force.
	if code, err := execDisk(t, "create", dir, "--force"); code != exitInvalid {
		t.Errorf("create over a directory: %d %v", code, err)
	}

	// A missing mkfs names its package.
	t.Setenv("PATH", t.TempDir())
	old := sbinDirs
	sbinDirs = nil
	t.Cleanup(func() { sbinDirs = old })
	code, err := execDisk(t, "create", filepath.Join(dir, "y.img"), "--fs", "ext4", "--size", "8M")
	if code != exitInvalid || err == nil || !strings.Contains(err.Error(), "apt-get install e2fsprogs") {
		t.Errorf("missing mkfs.ext4: %d %v", code, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "y.img")); !os.IsNotExist(err) {
		t.Errorf("failed create left a file: %v", err)
	}
}

func sha(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestDiskCreateSaysWhatItMade checks the one line a successful create
// prints: the path, size, filesystem and label.
func TestDiskCreateSaysWhatItMade(t *testing.T) {
	if _, err := findSbinTool("mkfs.ext4", "e2fsprogs"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	path := filepath.Join(t.TempDir(), "data.img")
	code, out := runCLI(t, "disk", "create", path, "--fs", "ext4", "--size", "8M", "--label", "appdata")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{path, "8.00 MiB", "ext4", `label "appdata"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q: %s", want, out)
		}
	}
}
