package compose

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tinyboot/tinyboot/compose/assemble"
	"github.com/tinyboot/tinyboot/compose/authenticode"
	"github.com/tinyboot/tinyboot/compose/containerdisk"
	"github.com/tinyboot/tinyboot/compose/esp"
	"github.com/tinyboot/tinyboot/compose/gce"
	"github.com/tinyboot/tinyboot/compose/initramfs"
	"github.com/tinyboot/tinyboot/compose/iso"
	"github.com/tinyboot/tinyboot/compose/kmod"
	"github.com/tinyboot/tinyboot/compose/uki"
	"github.com/tinyboot/tinyboot/internal/arch"
	"github.com/tinyboot/tinyboot/spec"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// Inspection is what an image holds, read without mounting anything.
type Inspection struct {
	Path string `json:"path"`
	// Format is the output format the file is (see spec.OutputFormats).
	Format   string `json:"format"`
	Size     int64  `json:"size"`
	VolumeID string `json:"volume_id,omitempty"`
	// BIOS is true when the image boots on PC BIOS too (an El Torito BIOS
	// entry and MBR boot code).
	BIOS bool `json:"bios,omitempty"`
	// Arch is the image's architecture, known by its ESP boot path, the
	// UKI's PE machine or the baked spec.
	Arch string `json:"arch"`
	// UKISize is the size of the UKI (/EFI/BOOT/BOOTX64.EFI on amd64)
	// inside the ESP.
	UKISize     int64  `json:"uki_size"`
	ESPSize     int64  `json:"esp_size"`
	KernelSize  int64  `json:"kernel_size"`
	InitrdSize  int64  `json:"initrd_size"`
	Cmdline     string `json:"cmdline"`
	OSRelease   string `json:"os_release"`
	Uname       string `json:"uname,omitempty"`
	Partitions  int    `json:"gpt_partitions"`
	BootEntries int    `json:"boot_entries"`
	// Initramfs lists the initramfs's entries, directories included, with
	// their uncompressed sizes.
	Initramfs []InspectedFile `json:"initramfs"`
	// Payload lists the ISO's files outside the boot image.
	Payload []InspectedFile `json:"payload"`
	// ModuleFiles counts the initramfs's .ko files, SignedModules those of
	// them with an appended signature: all of them in an image signed for
	// Secure Boot, none where tbcompose shipped slim modules (kmod.Slim).
	ModuleFiles   int `json:"module_files"`
	SignedModules int `json:"signed_modules"`
	// Signature is the UKI's Authenticode signature state.
	Signature *authenticode.Summary `json:"signature,omitempty"`
	// Spec is the baked spec the agent applies.
	Spec *baked.Config `json:"spec,omitempty"`
}

// InspectedFile is one file of an image.
type InspectedFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	Mode string `json:"mode"`
	Link string `json:"link,omitempty"`
	// UID and GID are the owner recorded in the initramfs (0 for ISO files).
	UID int  `json:"uid"`
	GID int  `json:"gid"`
	Dir bool `json:"dir,omitempty"`
}

// BootImage is an image's boot chain read back: the ESP from the ISO's El
// Torito catalog, the UKI from the ESP, the UKI's sections. Inspect and the
// benchmarks share it.
type BootImage struct {
	ESP []byte
	UKI []byte
	// Arch is the architecture whose removable-media path holds the UKI.
	Arch string
	// Sections are the UKI's sections by name (uki.Section* constants).
	Sections map[string][]byte
}

// ReadBoot reads the boot chain of an opened image.
func ReadBoot(im *iso.Image) (*BootImage, error) {
	espImage, err := im.ESP()
	if err != nil {
		return nil, fmt.Errorf("no EFI boot image: %w", err)
	}
	fat, err := esp.Open(bytes.NewReader(espImage))
	if err != nil {
		return nil, fmt.Errorf("ESP: %w", err)
	}
	ukiImage, a, err := readBootFile(fat)
	if err != nil {
		return nil, fmt.Errorf("ESP: %w", err)
	}
	u, err := uki.Read(bytes.NewReader(ukiImage))
	if err != nil {
		return nil, fmt.Errorf("UKI: %w", err)
	}
	b := &BootImage{ESP: espImage, UKI: ukiImage, Arch: a, Sections: map[string][]byte{}}
	for _, sec := range u.Sections() {
		data, err := sec.ReadAll()
		if err != nil {
			return nil, fmt.Errorf("UKI %s: %w", sec.Name, err)
		}
		b.Sections[sec.Name] = data
	}
	return b, nil
}

// Inspect reads the output at p, whatever its format: an ISO or raw disk
// (ISO tree, boot catalog, GPT, the UKI inside the ESP), a UKI, a kernel
// directory, a GCE archive or a containerDisk (the disk inside, read
// from a scratch copy); then the initramfs inside the UKI or beside the
// kernel.
func Inspect(p string) (*Inspection, error) {
	format, err := DetectFormat(p)
	if err != nil {
		return nil, err
	}
	switch format {
	case spec.FormatKernel:
		return inspectKernelDir(p)
	case spec.FormatUKI:
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		in := &Inspection{Path: p, Format: format, Size: int64(len(b)), UKISize: int64(len(b))}
		return in, inspectUKI(in, b)
	case spec.FormatGCE, spec.FormatContainerDisk:
		return inspectPacked(p, format)
	}
	return inspectDisk(p, p, format)
}

// DetectFormat tells which output format the file or directory at p is,
// by its content.
func DetectFormat(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		if _, err := os.Stat(filepath.Join(p, assemble.KernelFile)); err != nil {
			return "", fmt.Errorf("%s is a directory without %s: not a kernel output", p, assemble.KernelFile)
		}
		return spec.FormatKernel, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("MZ")):
		return spec.FormatUKI, nil
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return spec.FormatGCE, nil
	case n == 512 && string(head[257:262]) == "ustar":
		return spec.FormatContainerDisk, nil
	}
	// The ISO ends right after its volume and the backup GPT (36 blocks,
	// whole CD sectors); written as a disk, it is larger.
	if im, err := iso.Open(p); err == nil {
		defer im.Close()
		if vol, err := isoVolumeSize(f); err == nil && fi.Size() > vol+36*512 {
			return spec.FormatRaw, nil
		}
		return spec.FormatISO, nil
	}
	return "", fmt.Errorf("%s: not a tinyboot output (no ISO9660 volume, PE image, kernel directory, gzip or tar archive)", p)
}

// isoVolumeSize reads the volume space size of the primary volume
// descriptor, in bytes.
func isoVolumeSize(r io.ReaderAt) (int64, error) {
	pvd := make([]byte, 2048)
	if _, err := r.ReadAt(pvd, 16*2048); err != nil {
		return 0, err
	}
	if pvd[0] != 1 || string(pvd[1:6]) != "CD001" {
		return 0, errors.New("no primary volume descriptor")
	}
	return int64(binary.LittleEndian.Uint32(pvd[80:])) * 2048, nil
}

// inspectPacked takes the disk out of a GCE archive or a containerDisk
// into a scratch file and inspects it.
func inspectPacked(p, format string) (*Inspection, error) {
	work, err := os.MkdirTemp("", "tbinspect-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	disk := filepath.Join(work, "disk")
	var inner string
	switch format {
	case spec.FormatGCE:
		in, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer in.Close()
		out, err := os.Create(disk)
		if err != nil {
			return nil, err
		}
		_, err = gce.Extract(in, out)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		inner = spec.FormatRaw
	default:
		img, err := containerdisk.ReadArchive(p, work)
		if err != nil {
			return nil, err
		}
		h, b, err := containerdisk.ReadDisk(img)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if err := os.WriteFile(disk, b, 0o600); err != nil {
			return nil, err
		}
		if path.Ext(h.Name) != ".iso" {
			return nil, fmt.Errorf("%s: the containerDisk holds %s, not an ISO", p, h.Name)
		}
		inner = spec.FormatISO
	}
	in, err := inspectDisk(p, disk, inner)
	if err != nil {
		return nil, err
	}
	in.Format = format
	if fi, err := os.Stat(p); err == nil {
		in.Size = fi.Size()
	}
	return in, nil
}

// inspectDisk reads an ISO or raw disk at disk, reported as path.
func inspectDisk(path, disk, format string) (*Inspection, error) {
	im, err := iso.Open(disk)
	if err != nil {
		return nil, err
	}
	defer im.Close()
	in := &Inspection{Path: path, Format: format, Size: im.Size(), VolumeID: im.Label()}
	if cat, err := im.BootCatalog(); err == nil {
		in.BootEntries = len(cat.Entries)
		for _, e := range cat.Entries {
			in.BIOS = in.BIOS || e.Platform == iso.PlatformBIOS && e.Bootable
		}
	}
	if parts, err := im.Partitions(); err == nil {
		in.Partitions = len(parts)
	}
	files, err := im.Files()
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", path, err)
	}
	for _, f := range files {
		if f.Mode.IsDir() || strings.HasPrefix(f.Path, isolinuxDirPrefix) {
			continue
		}
		in.Payload = append(in.Payload, InspectedFile{Path: f.Path, Size: f.Size, Mode: f.Mode.String(), Link: f.LinkTarget})
	}
	boot, err := ReadBoot(im)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	in.ESPSize, in.UKISize, in.Arch = int64(len(boot.ESP)), int64(len(boot.UKI)), boot.Arch
	return in, inspectUKI(in, boot.UKI)
}

// isolinuxDirPrefix is where the BIOS loader lives on the ISO: not payload.
const isolinuxDirPrefix = "/isolinux/"

// inspectUKI fills in what the UKI holds: signature, sections, initramfs.
func inspectUKI(in *Inspection, ukiImage []byte) error {
	u, err := uki.Read(bytes.NewReader(ukiImage))
	if err != nil {
		return fmt.Errorf("%s: UKI: %w", in.Path, err)
	}
	sections := map[string][]byte{}
	for _, sec := range u.Sections() {
		data, err := sec.ReadAll()
		if err != nil {
			return fmt.Errorf("%s: UKI %s: %w", in.Path, sec.Name, err)
		}
		sections[sec.Name] = data
	}
	if in.Signature, err = authenticode.Summarize(ukiImage); err != nil {
		return fmt.Errorf("%s: UKI signature: %w", in.Path, err)
	}
	in.OSRelease = string(sections[uki.SectionOSRel])
	in.Uname = string(sections[uki.SectionUname])
	if in.Arch == "" {
		for _, name := range arch.Names() {
			if a := arch.MustLookup(name); a.PEMachine == u.Machine {
				in.Arch = a.Name
			}
		}
	}
	return inspectBoot(in, sections[uki.SectionLinux], sections[uki.SectionInitrd], string(sections[uki.SectionCmdline]))
}

// inspectKernelDir reads a kernel format directory.
func inspectKernelDir(dir string) (*Inspection, error) {
	in := &Inspection{Path: dir, Format: spec.FormatKernel}
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("kernel output: %w", err)
		}
		in.Size += int64(len(b))
		return b, nil
	}
	kernelImage, err := read(assemble.KernelFile)
	if err != nil {
		return nil, err
	}
	initrd, err := read(assemble.InitrdFile)
	if err != nil {
		return nil, err
	}
	cmdline, err := read(assemble.CmdlineFile)
	if err != nil {
		return nil, err
	}
	return in, inspectBoot(in, kernelImage, initrd, string(cmdline))
}

// inspectBoot fills in the kernel's size, the command line and the
// initramfs listing with the baked spec.
func inspectBoot(in *Inspection, kernelImage, initrd []byte, cmdline string) error {
	in.Cmdline = strings.TrimRight(cmdline, "\x00\n")
	in.KernelSize = int64(len(kernelImage))
	in.InitrdSize = int64(len(initrd))
	if len(initrd) == 0 {
		return nil
	}
	entries, err := initramfs.Read(initrd)
	if err != nil {
		return fmt.Errorf("%s: %w", in.Path, err)
	}
	for _, e := range entries {
		in.Initramfs = append(in.Initramfs, InspectedFile{Path: e.Path, Size: e.Size, Mode: e.Mode.String(), Link: e.Link, UID: e.UID, GID: e.GID, Dir: e.Mode.IsDir()})
		if strings.HasPrefix(e.Path, "/lib/modules/") && strings.HasSuffix(e.Path, ".ko") {
			in.ModuleFiles++
			if kmod.Signed(e.Data) {
				in.SignedModules++
			}
		}
		if e.Path == baked.Path {
			if c, err := baked.Unmarshal(e.Data); err == nil {
				in.Spec = c
			}
		}
	}
	sort.SliceStable(in.Initramfs, func(i, j int) bool { return in.Initramfs[i].Path < in.Initramfs[j].Path })
	if in.Spec != nil {
		// A kernel directory has no .uname nor PE header; the baked spec
		// names the kernel its modules are for and the architecture.
		if in.Uname == "" {
			in.Uname = in.Spec.KernelVersion
		}
		if in.Arch == "" {
			in.Arch = in.Spec.Arch
		}
	}
	return nil
}
