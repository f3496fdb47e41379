package compose_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/compose/gce"
	"github.com/tinyboot/tinyboot/compose/iso"
	"github.com/tinyboot/tinyboot/spec"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// TestBuildFormats builds the example in every output format at once and
// reads each back: every one holds the same kernel, initramfs and baked
// spec; the ISO's BIOS kernel and initrd are extents inside its ESP
// holding the kernel format's bytes; the raw disk has the size asked for
// with its backup GPT at the end; the gce archive holds a whole-GiB
// disk.raw; and a second build writes the same bytes for every format.
func TestBuildFormats(t *testing.T) {
	s := loadExample(t)
	dir := t.TempDir()
	build := func(out string) *compose.Result {
		t.Helper()
		res, err := compose.Build(context.Background(), s, compose.Options{
			Output: out, Formats: spec.OutputFormats, DiskSize: 64 << 20,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := build(filepath.Join(dir, "a"))
	byFormat := map[string]string{}
	sums := map[string]string{}
	for _, w := range res.Outputs {
		rel, _ := filepath.Rel(filepath.Join(dir, "a"), w.Path)
		sums[rel] = w.SHA256
		if _, ok := byFormat[w.Format]; !ok {
			byFormat[w.Format] = w.Path
		}
	}
	for _, f := range spec.OutputFormats {
		want := filepath.Join(dir, "a", compose.OutputName("hello", f))
		if f == spec.FormatKernel {
			want = filepath.Join(want, "cmdline") // the directory's first file
		}
		if byFormat[f] != want {
			t.Errorf("%s written to %q, want %q", f, byFormat[f], want)
		}
	}

	var ref *compose.Inspection
	for _, f := range spec.OutputFormats {
		p := filepath.Join(dir, "a", compose.OutputName("hello", f))
		in, err := compose.Inspect(p)
		if err != nil {
			t.Fatalf("inspect %s: %v", f, err)
		}
		if in.Format != f {
			t.Errorf("%s: inspected as %s", p, in.Format)
		}
		if in.Spec == nil || in.Spec.Hostname != "hello" {
			t.Errorf("%s: no baked spec", f)
		}
		if ref == nil {
			ref = in
			continue
		}
		wantCmdline := ref.Cmdline
		if f == spec.FormatKernel {
			// Booted without an ISO, so the agent is told not to search.
			wantCmdline += " " + baked.NoISOParam
		}
		if in.KernelSize != ref.KernelSize || in.InitrdSize != ref.InitrdSize || in.Cmdline != wantCmdline {
			t.Errorf("%s: kernel %d initrd %d cmdline %q; the ISO has %d, %d, %q", f, in.KernelSize, in.InitrdSize, in.Cmdline, ref.KernelSize, ref.InitrdSize, ref.Cmdline)
		}
		wantBIOS := f != spec.FormatUKI && f != spec.FormatKernel
		if in.BIOS != wantBIOS {
			t.Errorf("%s: BIOS boot %v, want %v", f, in.BIOS, wantBIOS)
		}
	}

	// The BIOS loader's kernel and initrd are the ESP's bytes.
	im, err := iso.Open(filepath.Join(dir, "a", "hello.iso"))
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	parts, err := im.Partitions()
	if err != nil {
		t.Fatal(err)
	}
	espStart, espEnd := parts[0].Offset(), parts[0].Offset()+parts[0].Size()
	for isoPath, file := range map[string]string{"/isolinux/vmlinuz": "vmlinuz", "/isolinux/initrd.img": "initrd.img"} {
		fi, err := im.Stat(isoPath)
		if err != nil {
			t.Fatal(err)
		}
		start := int64(fi.LBA) * 2048
		if start < espStart || start+fi.Size > espEnd {
			t.Errorf("%s at [%d, %d): not inside the ESP [%d, %d)", isoPath, start, start+fi.Size, espStart, espEnd)
		}
		got, err := im.ReadFile(isoPath)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(dir, "a", "hello-kernel", file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the kernel format's %s", isoPath, file)
		}
	}

	raw, err := iso.Open(filepath.Join(dir, "a", "hello.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if g, err := raw.GPT(); err != nil || raw.Size() != 64<<20 || g.BackupLBA != 64<<20/512-1 {
		t.Errorf("raw disk: %d bytes, GPT %+v, %v; want 64 MiB with the backup GPT in its last block", raw.Size(), g, err)
	}
	arc, err := os.Open(filepath.Join(dir, "a", "hello.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer arc.Close()
	disk, err := os.Create(filepath.Join(dir, "disk.raw"))
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	d, err := gce.Extract(arc, disk)
	if err != nil {
		t.Fatal(err)
	}
	if d.Size != gce.GiB || d.Stored > 32<<20 {
		t.Errorf("gce disk.raw: %d bytes, %d stored; want 1 GiB stored sparse", d.Size, d.Stored)
	}

	again := build(filepath.Join(dir, "b"))
	if len(again.Outputs) != len(res.Outputs) {
		t.Errorf("second build wrote %d files, first %d", len(again.Outputs), len(res.Outputs))
	}
	for _, w := range again.Outputs {
		rel, _ := filepath.Rel(filepath.Join(dir, "b"), w.Path)
		if sums[rel] != w.SHA256 {
			t.Errorf("%s: second build wrote %s, first %s", rel, w.SHA256, sums[rel])
		}
	}
}
