package assemble

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tinyboot/tinyboot/compose/containerdisk"
	"github.com/tinyboot/tinyboot/compose/gce"
	"github.com/tinyboot/tinyboot/compose/plan"
	"github.com/tinyboot/tinyboot/compose/uki"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// ukiWriter writes the UKI alone, as the ESP holds it (signed when the
// plan signs).
type ukiWriter struct{}

func (ukiWriter) Write(_ context.Context, parts *Parts, dst, _ string) (int64, error) {
	b, err := parts.UKI()
	if err != nil {
		return 0, err
	}
	return 0, writeFile(dst, b)
}

// Files of the kernel format's directory.
const (
	KernelFile  = "vmlinuz"
	InitrdFile  = "initrd.img"
	CmdlineFile = "cmdline"
)

// kernelWriter writes the kernel format: a directory holding the UKI's
// kernel, initrd and command line (one line), for direct kernel boot
// (QEMU -kernel, Firecracker, cloud-hypervisor).
type kernelWriter struct{}

func (kernelWriter) dirOutput() {}

func (kernelWriter) Write(_ context.Context, parts *Parts, dst, _ string) (int64, error) {
	b, err := parts.UKI()
	if err != nil {
		return 0, err
	}
	img, err := uki.Read(bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	for _, f := range []struct{ section, name string }{{uki.SectionLinux, KernelFile}, {uki.SectionInitrd, InitrdFile}, {uki.SectionCmdline, CmdlineFile}} {
		sec, ok := img.Section(f.section)
		if !ok {
			return 0, fmt.Errorf("UKI has no %s section", f.section)
		}
		data, err := sec.ReadAll()
		if err != nil {
			return 0, err
		}
		if f.section == uki.SectionCmdline {
			// One line, without the NUL the stub wants; and the agent is
			// told there is no ISO to search for on such a boot.
			data = bytes.TrimSpace(bytes.TrimRight(data, "\x00"))
			data = append(append(data, " "+baked.NoISOParam...), '\n')
		}
		if err := writeFile(filepath.Join(dst, f.name), data); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// rawWriter writes the hybrid image as a GPT disk: the ISO's bytes, the
// free space a hole, the backup GPT at the disk's end.
func newRawWriter(p *plan.Plan) Writer {
	w := newISOWriter(p).(*isoWriter)
	w.diskSize = func(image int64) int64 {
		if p.DiskSize > 0 {
			return p.DiskSize
		}
		return roundUp(image, 1<<20)
	}
	return w
}

// gceWriter writes a raw disk of whole GiB as disk.raw in a sparse
// .tar.gz, what Google Compute Engine imports.
type gceWriter struct {
	raw *isoWriter
	p   *plan.Plan
}

func newGCEWriter(p *plan.Plan) Writer {
	w := newISOWriter(p).(*isoWriter)
	w.diskSize = func(image int64) int64 { return roundUp(image, gce.GiB) }
	return &gceWriter{raw: w, p: p}
}

func (w *gceWriter) Write(ctx context.Context, parts *Parts, dst, work string) (int64, error) {
	disk := filepath.Join(work, "disk.raw")
	defer os.Remove(disk)
	payload, err := w.raw.Write(ctx, parts, disk, work)
	if err != nil {
		return 0, err
	}
	in, err := os.Open(disk)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return 0, err
	}
	if err := gce.Write(out, in, w.p.Epoch); err != nil {
		out.Close()
		return 0, err
	}
	return payload, out.Close()
}

// containerDiskWriter writes a KubeVirt containerDisk: an OCI image
// layout archive whose one layer holds the ISO at /disk/<name>.iso.
type containerDiskWriter struct {
	iso        *isoWriter
	name, arch string
}

func newContainerDiskWriter(p *plan.Plan) Writer {
	return &containerDiskWriter{iso: newISOWriter(p).(*isoWriter), name: p.Name, arch: planArch(p).Name}
}

func (w *containerDiskWriter) Write(ctx context.Context, parts *Parts, dst, work string) (int64, error) {
	isoPath := filepath.Join(work, w.name+".iso")
	defer os.Remove(isoPath)
	payload, err := w.iso.Write(ctx, parts, isoPath, work)
	if err != nil {
		return 0, err
	}
	img, err := containerdisk.Image(isoPath, w.name, w.arch)
	if err != nil {
		return 0, err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return 0, err
	}
	if err := containerdisk.Write(out, img, w.name, work); err != nil {
		out.Close()
		return 0, err
	}
	return payload, out.Close()
}

func writeFile(p string, b []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }
