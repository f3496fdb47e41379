package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/compose/assemble"
	"github.com/tinyboot/tinyboot/internal/qemu"
	"github.com/tinyboot/tinyboot/spec"
)

// targetKind is what `tbcompose run` was given: a spec to build, or one of
// the formats `tbcompose build --format` writes.
type targetKind string

// Run targets.
const (
	targetSpec   targetKind = "spec"   // tinyboot.yaml: built first, then booted as one of its outputs
	targetISO    targetKind = "iso"    // <name>.iso, a hybrid ISO
	targetRaw    targetKind = "raw"    // <name>.img, a GPT disk image
	targetUKI    targetKind = "uki"    // <name>.efi, a unified kernel image
	targetKernel targetKind = "kernel" // <name>-kernel/: vmlinuz, initrd.img, cmdline
	targetGCE    targetKind = "gce"    // <name>.tar.gz holding disk.raw
)

// formatTargets are the output formats run can boot, as targets.
var formatTargets = map[string]targetKind{
	spec.FormatISO: targetISO, spec.FormatRaw: targetRaw, spec.FormatGCE: targetGCE,
	spec.FormatUKI: targetUKI, spec.FormatKernel: targetKernel,
}

// specBootFormat picks which of the spec's output formats run boots: on
// a machine without firmware (--machine microvm, --firmware none) the
// kernel format, else the first of iso, raw, gce, uki, kernel the spec
// writes.
func (o *runOptions) specBootFormat(path string) (string, error) {
	order := []string{spec.FormatISO, spec.FormatRaw, spec.FormatGCE, spec.FormatUKI, spec.FormatKernel}
	if o.machine == string(qemu.MachineMicroVM) || o.firmware == string(qemu.FirmwareNone) {
		order = []string{spec.FormatKernel}
	}
	f, formats := firstSpecFormat(path, order)
	switch {
	case f != "":
		return f, nil
	case len(order) == 1:
		return "", fmt.Errorf("run %s: --machine microvm and --firmware none boot the kernel format, and the spec's formats (%s) do not have it; add kernel to formats or build it with tbcompose build --format kernel", path, strings.Join(formats, ", "))
	default:
		return "", fmt.Errorf("run %s: none of the spec's formats (%s) boots here; add iso (or raw, gce, uki, kernel) to formats", path, strings.Join(formats, ", "))
	}
}

// firstSpecFormat returns the first of order among the formats the spec
// at path writes, or "" and those formats. A spec that does not load is
// left for the build to explain: it counts as writing order[0].
func firstSpecFormat(path string, order []string) (string, []string) {
	s, _, err := spec.Load(path)
	if err != nil || s == nil {
		return order[0], nil
	}
	formats, err := compose.Formats(s.WithDefaults(), nil)
	if err != nil {
		return order[0], nil
	}
	for _, f := range order {
		if slices.Contains(formats, f) {
			return f, formats
		}
	}
	return "", formats
}

// Files of the kernel format's directory.
const (
	kernelFile  = assemble.KernelFile
	initrdFile  = assemble.InitrdFile
	cmdlineFile = assemble.CmdlineFile
)

// detectTarget says what path is, by its name and, when the name says
// nothing, by its first bytes: a directory is the kernel format; .iso,
// .img/.raw, .efi and .tar.gz/.tgz are named by their format; otherwise
// an ISO 9660 volume descriptor, a PE "MZ" header or a gzip header tell,
// and anything else is a spec.
func detectTarget(path string) (targetKind, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("run: %w", err)
	}
	if fi.IsDir() {
		for _, n := range []string{kernelFile, initrdFile, cmdlineFile} {
			if !isRegular(filepath.Join(path, n)) {
				return "", fmt.Errorf("run %s: a directory to run is the kernel format (vmlinuz, initrd.img and cmdline; see tbcompose build --format kernel), and it has no %s", path, n)
			}
		}
		return targetKernel, nil
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("run: %s is not a regular file", path)
	}
	lower := strings.ToLower(path)
	switch {
	case strings.HasSuffix(lower, ".iso"):
		return targetISO, nil
	case strings.HasSuffix(lower, ".img"), strings.HasSuffix(lower, ".raw"):
		return targetRaw, nil
	case strings.HasSuffix(lower, ".efi"):
		return targetUKI, nil
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		return targetGCE, nil
	case strings.HasSuffix(lower, ".yaml"), strings.HasSuffix(lower, ".yml"):
		return targetSpec, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("run: %w", err)
	}
	defer f.Close()
	head := make([]byte, 32774)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("run: %w", err)
	}
	head = head[:n]
	switch {
	case len(head) >= 32774 && string(head[32769:32774]) == "CD001":
		return targetISO, nil
	case bytes.HasPrefix(head, []byte("MZ")):
		return targetUKI, nil
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return targetGCE, nil
	}
	return targetSpec, nil
}

func isRegular(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// readKernelDir fills in cfg's direct kernel boot from a kernel format
// directory.
func readKernelDir(cfg *qemu.Config, dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, cmdlineFile))
	if err != nil {
		return fmt.Errorf("run: kernel format: %w", err)
	}
	line := strings.TrimSuffix(string(b), "\n")
	if strings.ContainsAny(line, "\n\x00") {
		return fmt.Errorf("run: %s: the kernel command line must be one line", filepath.Join(dir, cmdlineFile))
	}
	cfg.Kernel = filepath.Join(dir, kernelFile)
	cfg.Initrd = filepath.Join(dir, initrdFile)
	cfg.Append = line
	return nil
}
