package compose

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/tinyboot/tinyboot/compose/authenticode"
	"github.com/tinyboot/tinyboot/compose/esp"
	"github.com/tinyboot/tinyboot/compose/initramfs"
	"github.com/tinyboot/tinyboot/compose/iso"
	"github.com/tinyboot/tinyboot/compose/uki"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// Inspection is what an image holds, read without mounting anything.
type Inspection struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	VolumeID string `json:"volume_id"`
	// Arch is the image's architecture, known by its ESP boot path.
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

// Inspect reads the image at p: its ISO tree, its boot catalog and GPT,
// the UKI inside the ESP, and the initramfs inside the UKI.
func Inspect(p string) (*Inspection, error) {
	im, err := iso.Open(p)
	if err != nil {
		return nil, err
	}
	defer im.Close()
	in := &Inspection{Path: p, Size: im.Size(), VolumeID: im.Label()}
	if cat, err := im.BootCatalog(); err == nil {
		in.BootEntries = len(cat.Entries)
	}
	if parts, err := im.Partitions(); err == nil {
		in.Partitions = len(parts)
	}
	files, err := im.Files()
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p, err)
	}
	for _, f := range files {
		if f.Mode.IsDir() {
			continue
		}
		in.Payload = append(in.Payload, InspectedFile{Path: f.Path, Size: f.Size, Mode: f.Mode.String(), Link: f.LinkTarget})
	}
	boot, err := ReadBoot(im)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	in.ESPSize, in.UKISize, in.Arch = int64(len(boot.ESP)), int64(len(boot.UKI)), boot.Arch
	if in.Signature, err = authenticode.Summarize(boot.UKI); err != nil {
		return nil, fmt.Errorf("%s: UKI signature: %w", p, err)
	}
	in.Cmdline = strings.TrimRight(string(boot.Sections[uki.SectionCmdline]), "\x00\n")
	in.OSRelease = string(boot.Sections[uki.SectionOSRel])
	in.Uname = string(boot.Sections[uki.SectionUname])
	in.KernelSize = int64(len(boot.Sections[uki.SectionLinux]))
	initrd := boot.Sections[uki.SectionInitrd]
	in.InitrdSize = int64(len(initrd))
	if len(initrd) == 0 {
		return in, nil
	}
	entries, err := initramfs.Read(initrd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	for _, e := range entries {
		in.Initramfs = append(in.Initramfs, InspectedFile{Path: e.Path, Size: e.Size, Mode: e.Mode.String(), Link: e.Link, UID: e.UID, GID: e.GID, Dir: e.Mode.IsDir()})
		if e.Path == baked.Path {
			if c, err := baked.Unmarshal(e.Data); err == nil {
				in.Spec = c
			}
		}
	}
	sort.SliceStable(in.Initramfs, func(i, j int) bool { return in.Initramfs[i].Path < in.Initramfs[j].Path })
	return in, nil
}
