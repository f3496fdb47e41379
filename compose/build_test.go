package compose_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/internal/testcache"
	"github.com/tinyboot/tinyboot/spec"
)

// TestMain points every build of these tests at the tests' own cache, never
// the user's.
func TestMain(m *testing.M) {
	if err := testcache.Use(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func loadExample(t *testing.T) *spec.Resolved {
	t.Helper()
	s, diags, err := spec.Load("../examples/tinyboot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diags.HasErrors() {
		t.Fatalf("example invalid: %v", diags)
	}
	// The suite runs against the kernel package testcache names.
	s.Kernel.Package = testcache.Kernel()
	return s.WithDefaults()
}

// TestBuildExample builds the example with Debian's real kernel and reads
// the image back: boot catalog, GPT, UKI sections, initramfs and payload.
func TestBuildExample(t *testing.T) {
	s := loadExample(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "hello.iso")
	res, err := compose.Build(context.Background(), s, compose.Options{Output: out})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s: %d bytes, kernel %s, %d modules", out, res.Size, res.KernelVersion, len(res.Modules))
	for _, p := range res.Parts {
		t.Logf("  %-18s %d", p.Name, p.Size)
	}
	for _, tm := range res.Timings {
		t.Logf("  %-10s %v", tm.Stage, tm.Duration)
	}

	in, err := compose.Inspect(out)
	if err != nil {
		t.Fatal(err)
	}
	if in.VolumeID != "HELLO" {
		t.Errorf("volume id %q, want HELLO", in.VolumeID)
	}
	if in.BootEntries != 2 || !in.BIOS || in.Partitions < 1 {
		t.Errorf("boot entries %d (BIOS %v), GPT partitions %d; want a BIOS and an EFI entry and an ESP partition", in.BootEntries, in.BIOS, in.Partitions)
	}
	if !strings.Contains(in.Cmdline, "console=ttyS0") {
		t.Errorf("cmdline %q lacks the spec's console=ttyS0", in.Cmdline)
	}
	if in.Uname != res.KernelVersion || in.KernelSize == 0 || in.InitrdSize == 0 {
		t.Errorf("UKI: uname %q kernel %d initrd %d", in.Uname, in.KernelSize, in.InitrdSize)
	}
	if !strings.Contains(in.OSRelease, "ID=tinyboot") {
		t.Errorf(".osrel = %q", in.OSRelease)
	}
	// Not signed for Secure Boot: the modules ship slim, without their
	// signatures (TestSecureBoot checks a signed image keeps them).
	if in.ModuleFiles != len(res.Modules) || in.SignedModules != 0 {
		t.Errorf("%d module files, %d signed; want %d, none signed", in.ModuleFiles, in.SignedModules, len(res.Modules))
	}
	files := map[string]compose.InspectedFile{}
	for _, f := range in.Initramfs {
		files[f.Path] = f
		// Nothing but the agent and the app runs, owned by root; only /tmp
		// is writable by all.
		if f.UID != 0 || f.GID != 0 {
			t.Errorf("%s owned by %d:%d, want root", f.Path, f.UID, f.GID)
		}
		if len(f.Mode) >= 9 && f.Mode[len(f.Mode)-2] == 'w' && f.Path != "/tmp" {
			t.Errorf("%s is world-writable (%s)", f.Path, f.Mode)
		}
		if f.Mode[0] == 'L' || f.Mode[0] == 'l' {
			t.Errorf("%s: unexpected symlink to %s", f.Path, f.Link)
		}
		if f.Path != "/init" && f.Path != "/bin/hello" && !f.Dir && strings.Contains(f.Mode, "x") {
			t.Errorf("%s is executable: the image runs only the agent and the app", f.Path)
		}
	}
	for _, want := range []string{"/init", "/bin/hello", "/etc/tinyboot/spec.json", "/etc/ssl/certs/ca-certificates.crt"} {
		if _, ok := files[want]; !ok {
			t.Errorf("initramfs lacks %s", want)
		}
	}
	if in.Spec == nil {
		t.Fatal("no baked spec in the initramfs")
	}
	if in.Spec.App.Path != "/bin/hello" || in.Spec.ISO.VolumeID != "HELLO" || in.Spec.Persistent == nil || in.Spec.Persistent.Label != "tinyboot" {
		t.Errorf("baked spec: %+v", in.Spec)
	}
	specJSON, _ := json.Marshal(in.Spec)
	for _, host := range []string{s.Spec().Dir, filepath.Dir(s.Spec().Dir), os.Getenv("HOME"), "/tmp/", "/root/"} {
		if host != "" && strings.Contains(string(specJSON), host) {
			t.Errorf("baked spec holds the host path %q: %s", host, specJSON)
		}
	}
	mods := map[string]bool{}
	for i, m := range in.Spec.Modules {
		mods[m.Name] = true
		if _, ok := files["/lib/modules/"+res.KernelVersion+"/"+m.Path]; !ok {
			t.Errorf("module %d %s: %s not in the initramfs", i, m.Name, m.Path)
		}
	}
	for _, want := range []string{"isofs", "virtio_pci", "virtio_mmio", "virtio_net", "btrfs", "button", "sr_mod"} {
		if !mods[want] {
			t.Errorf("module %s missing from the baked load order", want)
		}
	}
	want, err := os.ReadFile("../examples/www/index.html")
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, f := range in.Payload {
		if f.Path == "/www/index.html" {
			found = f.Size == int64(len(want))
		}
	}
	if !found {
		t.Errorf("payload /www/index.html missing or wrong size: %+v", in.Payload)
	}
	if in.Size-in.UKISize >= 1<<20 {
		t.Logf("note: the ISO adds %d bytes over the UKI (target < 1 MiB)", in.Size-in.UKISize)
	}

	// Reproducible: a second build in a cache of its own, which shares
	// only the downloaded .debs (read only) with the first, so that the
	// kernel tree, the module resolution, the initramfs segments and the
	// ESP are all made again, gives the same bytes.
	fresh := t.TempDir()
	if err := os.Symlink(filepath.Join(testcache.Dir(), "debs"), filepath.Join(fresh, "debs")); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "again.iso")
	res2, err := compose.Build(context.Background(), loadExample(t), compose.Options{Output: out2, CacheDir: fresh})
	if err != nil {
		t.Fatal(err)
	}
	if res2.SHA256 != res.SHA256 {
		a, _ := os.ReadFile(out)
		b, _ := os.ReadFile(out2)
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		t.Fatalf("two builds differ: %s vs %s (first difference at byte %d)", res.SHA256, res2.SHA256, i)
	}
	// The image on disk is the one the result describes.
	if fi, err := os.Stat(out); err != nil || fi.Size() != res.Size {
		t.Errorf("size on disk %v (%v), result says %d", fi, err, res.Size)
	}
}

// TestEpochChangesImage shows the time stamp is the only input that moves
// when SOURCE_DATE_EPOCH does, and that it does move.
func TestEpochChangesImage(t *testing.T) {
	dir := t.TempDir()
	var sums []string
	for _, epoch := range []string{"1700000000", "1700000000", "1800000000"} {
		t.Setenv("SOURCE_DATE_EPOCH", epoch)
		res, err := compose.Build(context.Background(), loadExample(t), compose.Options{Output: filepath.Join(dir, "x.iso")})
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, res.SHA256)
	}
	if sums[0] != sums[1] {
		t.Errorf("same SOURCE_DATE_EPOCH, different images")
	}
	if sums[0] == sums[2] {
		t.Errorf("different SOURCE_DATE_EPOCH, same image: the time is not stamped")
	}
}
