package compose

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/cavaliergopher/cpio"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/tinyboot/tinyboot/compose/authenticode"
	"github.com/tinyboot/tinyboot/compose/esp"
	"github.com/tinyboot/tinyboot/compose/iso"
	"github.com/tinyboot/tinyboot/compose/uki"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// Inspection is what an image holds, read without mounting anything.
type Inspection struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	VolumeID string `json:"volume_id"`
	// UKISize is the size of /EFI/BOOT/BOOTX64.EFI inside the ESP.
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
	espImage, err := im.ESP()
	if err != nil {
		return nil, fmt.Errorf("%s: no EFI boot image: %w", p, err)
	}
	in.ESPSize = int64(len(espImage))
	fat, err := esp.Open(bytes.NewReader(espImage))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	ukiImage, err := fat.ReadFile("EFI/BOOT/BOOTX64.EFI")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	in.UKISize = int64(len(ukiImage))
	if in.Signature, err = authenticode.Summarize(ukiImage); err != nil {
		return nil, fmt.Errorf("%s: UKI signature: %w", p, err)
	}
	u, err := uki.Read(bytes.NewReader(ukiImage))
	if err != nil {
		return nil, fmt.Errorf("%s: UKI: %w", p, err)
	}
	read := func(name string) []byte {
		s, ok := u.Section(name)
		if !ok {
			return nil
		}
		b, _ := s.ReadAll()
		return b
	}
	in.Cmdline = strings.TrimRight(string(read(".cmdline")), "\x00\n")
	in.OSRelease = string(read(".osrel"))
	in.Uname = string(read(".uname"))
	if s, ok := u.Section(".linux"); ok {
		in.KernelSize = s.Size
	}
	initrd := read(".initrd")
	in.InitrdSize = int64(len(initrd))
	if len(initrd) == 0 {
		return in, nil
	}
	if err := inspectInitramfs(in, initrd); err != nil {
		return nil, fmt.Errorf("%s: initramfs: %w", p, err)
	}
	return in, nil
}

// inspectInitramfs walks every concatenated segment, compressed or not,
// as the kernel's unpacker does.
func inspectInitramfs(in *Inspection, data []byte) error {
	for len(data) > 0 {
		// Segments may be padded with zeros between them.
		data = bytes.TrimLeft(data, "\x00")
		if len(data) == 0 {
			break
		}
		r := bytes.NewReader(data)
		var dec io.Reader
		switch {
		case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
			z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
			if err != nil {
				return err
			}
			defer z.Close()
			dec = z
		case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
			x, err := xz.NewReader(r)
			if err != nil {
				return err
			}
			dec = x
		case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
			g, err := gzip.NewReader(r)
			if err != nil {
				return err
			}
			dec = g
		case bytes.HasPrefix(data, []byte("070701")):
			dec = r
		default:
			return fmt.Errorf("unknown segment format (starts % x)", data[:min(len(data), 6)])
		}
		// Every compressed stream here holds all the remaining segments of
		// its kind back to back; the decoders read across frame boundaries.
		raw, err := io.ReadAll(dec)
		if err != nil {
			return err
		}
		if err := readCPIOs(in, raw); err != nil {
			return err
		}
		if dec == r {
			break
		}
		data = data[len(data)-r.Len():]
		if r.Len() == 0 {
			break
		}
	}
	sort.Slice(in.Initramfs, func(i, j int) bool { return in.Initramfs[i].Path < in.Initramfs[j].Path })
	return nil
}

// readCPIOs reads newc archives one after another from raw.
func readCPIOs(in *Inspection, raw []byte) error {
	for {
		i := bytes.Index(raw, []byte("070701"))
		if i < 0 {
			return nil
		}
		br := bytes.NewReader(raw[i:])
		cr := cpio.NewReader(br)
		for {
			h, err := cr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			body, err := io.ReadAll(cr)
			if err != nil {
				return err
			}
			name := "/" + strings.TrimPrefix(path.Clean("/"+h.Name), "/")
			f := InspectedFile{Path: name, Size: h.Size, Mode: fmt.Sprintf("%v", h.FileInfo().Mode()), UID: h.Uid, GID: h.Guid, Dir: h.Mode.IsDir()}
			if h.Mode&cpio.ModeType == cpio.TypeSymlink {
				// The reader moves a symlink's body (its target) to Linkname.
				f.Link, f.Size = h.Linkname, 0
			}
			in.Initramfs = append(in.Initramfs, f)
			if name == baked.Path {
				if c, err := baked.Unmarshal(body); err == nil {
					in.Spec = c
				}
			}
		}
		// The reader buffered ahead; skip past this archive's trailer.
		t := bytes.Index(raw[i:], []byte("TRAILER!!!"))
		if t < 0 {
			return nil
		}
		raw = raw[i+t+len("TRAILER!!!"):]
	}
}
