// Package plan is what an image is made of, fully resolved: the handoff
// from the composer's resolving step (spec and lock in, kernel and modules
// found) to its assembling step (initramfs, UKI, ESP and every requested
// output built from the plan alone).
//
// A plan holds no spec: every host path in it is absolute, every default
// has been applied, and where an input came from (a spec field, a default)
// is kept as text so that assembly errors can still name what the user
// should change. Later features add fields here, not new ways for the
// assembler to reach back into the spec: extra initramfs files go into
// Files, a UKI signer into UKITransforms, a new output format into Outputs.
package plan

import (
	"context"
	"io/fs"
	"time"

	"github.com/tinyboot/tinyboot/compose/initramfs"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/internal/arch"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// Plan is one image to assemble.
type Plan struct {
	// Name is the machine's name (the spec's name).
	Name string
	// Arch is the image's architecture (see internal/arch); the kernel,
	// the stub, the app and the agent are all for it.
	Arch arch.Arch
	// Epoch stamps every file time in every output.
	Epoch time.Time
	// Compression of the initramfs segments.
	Compression initramfs.Compression
	// Kernel is the resolved kernel on the host.
	Kernel *kernel.Kernel
	// Modules are the kernel modules to ship, in load order.
	Modules []Module
	// App is the one program the machine runs.
	App App
	// Agent is the binary that becomes /init.
	Agent Agent
	// Stub is the UEFI stub the UKI is built on.
	Stub Input
	// StubPackage is the package the default stub came from; nil when
	// the spec names its own stub.
	StubPackage *kernel.Package
	// CACerts is the host PEM bundle installed as the image's CA bundle;
	// its Path is empty when the image gets none.
	CACerts Input
	// Files are extra initramfs entries (for example /etc/hosts), added
	// after the baked spec in their own segment, in order.
	Files []File
	// Config is the baked spec the agent applies, at baked.Path.
	Config *baked.Config
	// Cmdline is the kernel command line, defaults merged.
	Cmdline string
	// OSRelease is the UKI's .osrel section.
	OSRelease string
	// VolumeID is the ISO9660 volume identifier the agent mounts /iso by.
	VolumeID string
	// Payload is what the ISO carries outside the boot image, in order.
	Payload []PayloadEntry
	// UKITransforms run in order on the built UKI before it goes into the
	// ESP and any other output (a signer is one).
	UKITransforms []Transform
	// Keys name parts whose content is known before assembly, for caching.
	Keys Keys
	// SlimModules ships the modules with kmod.SlimSections emptied and
	// without their signatures: unsigned modules, which the kernel loads
	// unless signatures are enforced. False when they are: a Secure Boot
	// image (lockdown) or a cmdline asking for it.
	SlimModules bool
	// Outputs are the files to write, in order; at least one.
	Outputs []Output
	// ZoneinfoSHA256 is the sha256 of the zone database shipped in Files
	// for the spec's timezone ("" when none), for the lock.
	ZoneinfoSHA256 string
	// BIOS is ISOLINUX, which makes the ISO and the raw disk boot on PC
	// BIOS too; nil leaves them UEFI-only.
	BIOS *kernel.BIOSLoader
	// DiskSize is the raw disk's size in bytes; 0 rounds the image up to
	// a whole MiB. The gce disk is always a whole number of GiB.
	DiskSize int64
}

// Input is a host file or tree the image is made from, with where it came
// from for error messages.
type Input struct {
	// Path is the absolute host path; empty for "none".
	Path string
	// Origin names the input as the user knows it: the spec field and its
	// value ("kernel.stub ./my.efi", "files[0].src ./www"), or what default
	// was used.
	Origin string
	// Fix says what to do when the input cannot be used.
	Fix string
	// Missing, when set, is the whole message for an input that does not
	// exist (a default the user never named needs a different story).
	Missing string
}

// PayloadEntry is a host file or tree copied to Dst on the ISO.
type PayloadEntry struct {
	Input
	// Dst is the absolute ISO path; a directory's contents merge into it.
	Dst string
}

// Module is one kernel module in the image.
type Module struct {
	// Name is the module's name as modinfo prints it.
	Name string `json:"name"`
	// Path is relative to lib/modules/<version> in the image, always .ko.
	Path string `json:"path"`
	// Source is relative to the kernel's ModulesDir, possibly compressed.
	Source string `json:"source"`
	// Aliases, Needs and Always are the agent's coldplug table (see
	// baked.Module).
	Aliases []string `json:"aliases,omitempty"`
	Needs   []string `json:"needs,omitempty"`
	Always  bool     `json:"always,omitempty"`
}

// App is the app's source: a Go package to build or a prebuilt binary.
type App struct {
	// GoPackage is a Go package (directory or import path) resolved from
	// Dir; empty for a prebuilt binary.
	GoPackage string
	// Dir is the directory GoPackage is resolved from.
	Dir string
	// Binary is the absolute path of a prebuilt executable.
	Binary string
	// ImagePath is where the app lives inside the image.
	ImagePath string
	// ISOPath, when set, puts the app on the ISO's filesystem at this
	// path instead of into the initramfs (app.run_from: iso): every
	// output then carries the ISO.
	ISOPath string
	// BuildTags and LDFlags are app.build's extra go build options.
	BuildTags []string
	LDFlags   string
}

// Agent is the agent binary: prebuilt, or built from this module's source.
type Agent struct {
	// Prebuilt is a prebuilt agent's path; empty builds one from source.
	Prebuilt string
}

// File is one extra initramfs entry: Data, or the host file Host.
type File struct {
	// Path is the absolute path inside the image.
	Path string
	Mode fs.FileMode
	Data []byte
	// Host, when set, is read instead of Data.
	Host string
	// Link, when set, makes the entry a symbolic link to Link.
	Link string
}

// Keys are cache keys of parts whose content the resolver already knows.
type Keys struct {
	// Modules names the modules segment's content ("" when the module tree
	// may change under us, as a user's modules_dir can).
	Modules string
}

// Transform changes the built UKI, for example signing it.
type Transform interface {
	// Key names the transform and its inputs (a certificate's hash), so
	// that a cached ESP is reused only for the same transforms.
	Key() string
	// Apply returns the transformed UKI.
	Apply(ctx context.Context, uki []byte) ([]byte, error)
}

// Output is one file (or, for FormatKernel, directory) to write.
type Output struct {
	// Format names the writer: one of the Format constants.
	Format string
	// Path is the absolute destination.
	Path string
}

// Output formats, named as the spec's formats key names them (the
// composer's tests check that the two lists agree).
const (
	// FormatISO is the hybrid ISO: El Torito BIOS and EFI boot images plus
	// a GPT ESP, so it boots from a CD, a USB stick or a raw disk.
	FormatISO = "iso"
	// FormatUKI is the unified kernel image alone.
	FormatUKI = "uki"
	// FormatKernel is a directory with vmlinuz, initrd.img and cmdline.
	FormatKernel = "kernel"
	// FormatRaw is the hybrid image as a GPT disk of a chosen size.
	FormatRaw = "raw"
	// FormatGCE is a raw disk of whole GiB as disk.raw in a .tar.gz.
	FormatGCE = "gce"
	// FormatContainerDisk is a KubeVirt containerDisk holding the ISO.
	FormatContainerDisk = "containerdisk"
)
