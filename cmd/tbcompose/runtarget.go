package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tinyboot/tinyboot/compose/assemble"
	"github.com/tinyboot/tinyboot/internal/qemu"
)

// targetKind is what `tbcompose run` was given: a spec to build, or one of
// the formats `tbcompose build --format` writes.
type targetKind string

// Run targets.
const (
	targetSpec   targetKind = "spec"   // tinyboot.yaml: built first, then booted as an ISO
	targetISO    targetKind = "iso"    // <name>.iso, a hybrid ISO
	targetRaw    targetKind = "raw"    // <name>.img, a GPT disk image
	targetUKI    targetKind = "uki"    // <name>.efi, a unified kernel image
	targetKernel targetKind = "kernel" // <name>-kernel/: vmlinuz, initrd.img, cmdline
	targetGCE    targetKind = "gce"    // <name>.tar.gz holding disk.raw
)

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
