// Package spec defines tinyboot.yaml: its Go types, how it is loaded and
// checked, and the defaults a spec gets before the composer resolves it.
//
// The YAML keys below are the v1 contract: later tools and users' pipelines
// depend on them, so a key is never renamed, only added.
package spec

import (
	"encoding/json"
	"errors"
	"time"

	"gopkg.in/yaml.v3"
)

// Spec is one tinyboot.yaml document.
type Spec struct {
	// Name is the machine's name: default hostname and output file name.
	// Lowercase [a-z0-9][a-z0-9-]*, a valid hostname label.
	Name string `yaml:"name" json:"name"`
	// Kernel says where the kernel and its modules come from.
	Kernel Kernel `yaml:"kernel" json:"kernel"`
	// Modules are extra kernel modules (names or aliases) on top of those
	// the spec's features need.
	Modules []string `yaml:"modules,omitempty" json:"modules,omitempty"`
	// App is the one program the machine runs.
	App App `yaml:"app" json:"app"`
	// Files are shipped on the ISO, read-only at /iso in the running system.
	Files []File `yaml:"files,omitempty" json:"files,omitempty"`
	// Persistent, when set, is the volume mounted at /persistent.
	Persistent *Persistent `yaml:"persistent,omitempty" json:"persistent,omitempty"`
	// Network configures DHCP.
	Network Network `yaml:"network,omitempty" json:"network,omitempty"`
	// Time configures clock synchronisation.
	Time Time `yaml:"time,omitempty" json:"time,omitempty"`
	// Hostname defaults to Name.
	Hostname string `yaml:"hostname,omitempty" json:"hostname,omitempty"`
	// Log sends the console's lines to a remote syslog server too.
	Log *Log `yaml:"log,omitempty" json:"log,omitempty"`
	// Watchdog arms the machine's hardware watchdog; nil means the
	// defaults (on, 60s, when the machine has one).
	Watchdog *Watchdog `yaml:"watchdog,omitempty" json:"watchdog,omitempty"`
	// CACerts is "system", "none" or a path to a PEM bundle.
	CACerts string `yaml:"ca_certs,omitempty" json:"ca_certs,omitempty"`
	// Output is the image path; default <name>.iso next to the spec.
	Output string `yaml:"output,omitempty" json:"output,omitempty"`
	// Timezone and Sysctl: see spec/runtime.go.
	Timezone string            `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	Sysctl   map[string]string `yaml:"sysctl,omitempty" json:"sysctl,omitempty"`
	// SecureBoot, when set, signs the UKI for UEFI Secure Boot.
	SecureBoot *SecureBoot `yaml:"secure_boot,omitempty" json:"secure_boot,omitempty"`
	// Archive lists the package archives kernel.package and the UEFI stub
	// come from; empty means the Debian sources configured on the host.
	Archive []ArchiveSource `yaml:"archive,omitempty" json:"archive,omitempty"`
	// Formats are the outputs one build writes (FormatISO … see
	// OutputFormats); empty means [iso].
	Formats []string `yaml:"formats,omitempty" json:"formats,omitempty"`
	// Arch is the architecture the image is built for, or a list of them
	// for one image each; default amd64 (see spec/arch.go).
	Arch Arches `yaml:"arch,omitempty" json:"arch,omitempty"`

	// Path is the file the spec was loaded from ("" when loaded from
	// memory). Dir is the directory relative paths are resolved against.
	Path string `yaml:"-" json:"-"`
	Dir  string `yaml:"-" json:"-"`
}

// Kernel selects the kernel: exactly one of Package, Deb or Vmlinuz.
type Kernel struct {
	// Package is a Debian/Ubuntu kernel package name, fetched from the
	// spec's archive (a meta package such as linux-image-amd64 is
	// followed to the packages holding vmlinuz and the modules).
	Package string `yaml:"package,omitempty" json:"package,omitempty"`
	// Deb lists local .deb files or downloadable ones pinned by sha256.
	Deb []DebSource `yaml:"deb,omitempty" json:"deb,omitempty"`
	// Vmlinuz is a kernel image; ModulesDir is its /lib/modules/<version>.
	Vmlinuz    string `yaml:"vmlinuz,omitempty" json:"vmlinuz,omitempty"`
	ModulesDir string `yaml:"modules_dir,omitempty" json:"modules_dir,omitempty"`
	// Cmdline holds extra kernel command-line words.
	Cmdline []string `yaml:"cmdline,omitempty" json:"cmdline,omitempty"`
	// Stub overrides the UEFI stub (default: systemd's linuxx64.efi.stub
	// from the archive's systemd-boot-efi).
	Stub string `yaml:"stub,omitempty" json:"stub,omitempty"`
	// Isolinux is the BIOS loader of the ISO and raw disk: a directory
	// holding isolinux.bin, ldlinux.c32 and isohdpfx.bin, or "none" for
	// UEFI-only images (default: Debian's isolinux and syslinux-common
	// from the archive).
	Isolinux string `yaml:"isolinux,omitempty" json:"isolinux,omitempty"`
}

// IsolinuxNone turns BIOS boot off.
const IsolinuxNone = "none"

// The output formats of a build, as the formats key and --format name
// them.
const (
	FormatISO           = "iso"
	FormatUKI           = "uki"
	FormatKernel        = "kernel"
	FormatRaw           = "raw"
	FormatGCE           = "gce"
	FormatContainerDisk = "containerdisk"
)

// OutputFormats lists every output format, in the order a build writes
// them.
var OutputFormats = []string{FormatISO, FormatUKI, FormatKernel, FormatRaw, FormatGCE, FormatContainerDisk}

// ArchiveSource is one Debian-format archive, as a deb822 sources entry
// means it.
type ArchiveSource struct {
	// URL is the archive's base, the directory holding dists/ and pool/.
	URL string `yaml:"url" json:"url"`
	// Suites are dists/ subdirectories, such as bookworm-security.
	Suites []string `yaml:"suites" json:"suites"`
	// Components default to main.
	Components []string `yaml:"components,omitempty" json:"components,omitempty"`
	// Keyring is an OpenPGP keyring file trusted for this archive instead
	// of Debian's built-in keys.
	Keyring string `yaml:"keyring,omitempty" json:"keyring,omitempty"`
}

// DebSource is one .deb: a local path (written in YAML as a plain string)
// or a URL pinned by its sha256 (written as {url: ..., sha256: ...}).
type DebSource struct {
	Path   string `yaml:"path,omitempty" json:"path,omitempty"`
	URL    string `yaml:"url,omitempty" json:"url,omitempty"`
	SHA256 string `yaml:"sha256,omitempty" json:"sha256,omitempty"`
}

// debRemote is DebSource's mapping form, without the methods below, so
// that decoding it does not recurse.
type debRemote struct {
	URL    string `yaml:"url" json:"url"`
	SHA256 string `yaml:"sha256" json:"sha256"`
}

// UnmarshalYAML accepts a plain string (a local path) or a {url, sha256}
// mapping, for callers decoding YAML directly; Parse checks the same forms
// against schema.json with positions.
func (d *DebSource) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*d = DebSource{Path: n.Value}
		return nil
	}
	var r debRemote
	if err := n.Decode(&r); err != nil {
		return err
	}
	*d = DebSource{URL: r.URL, SHA256: r.SHA256}
	return nil
}

// MarshalYAML writes the form UnmarshalYAML reads.
func (d DebSource) MarshalYAML() (any, error) {
	if d.URL == "" {
		return d.Path, nil
	}
	return debRemote{URL: d.URL, SHA256: d.SHA256}, nil
}

// UnmarshalJSON accepts the same two forms as UnmarshalYAML; null leaves d
// unchanged.
func (d *DebSource) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		*d = DebSource{Path: v}
		return nil
	case map[string]any:
		var r debRemote
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		*d = DebSource{URL: r.URL, SHA256: r.SHA256}
		return nil
	}
	return errors.New("deb entry: want a path or {url, sha256}")
}

// MarshalJSON writes the form UnmarshalJSON reads.
func (d DebSource) MarshalJSON() ([]byte, error) {
	if d.URL == "" {
		return json.Marshal(d.Path)
	}
	return json.Marshal(debRemote{URL: d.URL, SHA256: d.SHA256})
}

// App is the program the agent runs: exactly one of Go or Binary.
type App struct {
	// Go is a Go package (directory or import path) built for linux and
	// the image's architecture with CGO_ENABLED=0.
	Go string `yaml:"go,omitempty" json:"go,omitempty"`
	// Binary is a prebuilt static linux ELF for the image's architecture.
	Binary string `yaml:"binary,omitempty" json:"binary,omitempty"`
	// Args and Env are passed to the app.
	Args []string          `yaml:"args,omitempty" json:"args,omitempty"`
	Env  map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// StopTimeout is the SIGTERM to SIGKILL grace period at shutdown.
	StopTimeout Duration `yaml:"stop_timeout,omitempty" json:"stop_timeout,omitempty"`
	// Restart is one of RestartNever, RestartOnFailure, RestartAlways.
	Restart string `yaml:"restart,omitempty" json:"restart,omitempty"`
	// OnExit is one of OnExitReboot, OnExitPoweroff, OnExitHalt.
	OnExit string `yaml:"on_exit,omitempty" json:"on_exit,omitempty"`
	// RunFrom is where the app's binary lives in the image: RunFromInitramfs
	// (the default: in RAM, inside the UKI) or RunFromISO (a file on the
	// ISO's filesystem, executed from /iso and paged in on demand, for
	// large apps).
	RunFrom string `yaml:"run_from,omitempty" json:"run_from,omitempty"`
	// User, Capabilities, Limits and Build: see spec/runtime.go.
	User         *User    `yaml:"user,omitempty" json:"user,omitempty"`
	Capabilities []string `yaml:"capabilities,omitempty" json:"capabilities,omitempty"`
	Limits       *Limits  `yaml:"limits,omitempty" json:"limits,omitempty"`
	Build        *Build   `yaml:"build,omitempty" json:"build,omitempty"`
}

// Where the app's binary lives (app.run_from).
const (
	RunFromInitramfs = "initramfs"
	RunFromISO       = "iso"
)

// AppISODir is the directory on the ISO that holds the app under
// app.run_from: iso; files cannot be put there.
const AppISODir = "/tinyboot"

// FormatHasISO reports whether output format f carries the ISO's
// filesystem, and so can hold an app run from it.
func FormatHasISO(f string) bool {
	switch f {
	case FormatISO, FormatRaw, FormatGCE, FormatContainerDisk:
		return true
	}
	return false
}

// Restart policies.
const (
	RestartNever     = "never"
	RestartOnFailure = "on-failure"
	RestartAlways    = "always"
)

// What the machine does once the app has ended for good.
const (
	OnExitReboot   = "reboot"
	OnExitPoweroff = "poweroff"
	OnExitHalt     = "halt"
)

// File is one ISO payload entry: a file or directory tree Src placed at the
// absolute path Dst under /iso.
type File struct {
	Src string `yaml:"src" json:"src"`
	Dst string `yaml:"dst" json:"dst"`
}

// Persistent is the writable volume mounted at /persistent.
type Persistent struct {
	// Label is the filesystem label the agent looks for.
	Label string `yaml:"label,omitempty" json:"label,omitempty"`
	// FS is FSBtrfs or FSExt4.
	FS string `yaml:"fs,omitempty" json:"fs,omitempty"`
	// Required refuses to start the app without the volume.
	Required bool `yaml:"required,omitempty" json:"required,omitempty"`
	// Wait bounds how long the agent waits for the volume to appear.
	Wait Duration `yaml:"wait,omitempty" json:"wait,omitempty"`
}

// Persistent filesystems.
const (
	FSBtrfs = "btrfs"
	FSExt4  = "ext4"
)

// Network configures the machine's NICs.
type Network struct {
	// DHCP runs DHCPv4 on every non-loopback NIC that Interfaces does not
	// list; nil means true.
	DHCP *bool `yaml:"dhcp,omitempty" json:"dhcp,omitempty"`
	// Wait bounds how long the app's start waits for a lease.
	Wait Duration `yaml:"wait,omitempty" json:"wait,omitempty"`
	// Interfaces configure NICs one by one, matched by name or MAC.
	Interfaces []Interface `yaml:"interfaces,omitempty" json:"interfaces,omitempty"`
}

// Interface is the configuration of one NIC: static addresses, DHCP, or
// both.
type Interface struct {
	// Name ("eth0") or MAC ("52:54:00:12:34:56") picks the NIC: exactly
	// one of them.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	MAC  string `yaml:"mac,omitempty" json:"mac,omitempty"`
	// DHCP runs DHCPv4 on it; nil means true without Addresses, false
	// with them.
	DHCP *bool `yaml:"dhcp,omitempty" json:"dhcp,omitempty"`
	// Addresses are static IPv4 and IPv6 addresses in CIDR form.
	Addresses []string `yaml:"addresses,omitempty" json:"addresses,omitempty"`
	// Gateway and Gateway6 are the IPv4 and IPv6 default routes.
	Gateway  string `yaml:"gateway,omitempty" json:"gateway,omitempty"`
	Gateway6 string `yaml:"gateway6,omitempty" json:"gateway6,omitempty"`
	// DNS are name servers for /etc/resolv.conf, before leased ones.
	DNS []string `yaml:"dns,omitempty" json:"dns,omitempty"`
	// MTU is set on the link; 0 keeps the driver's (or the lease's).
	MTU int `yaml:"mtu,omitempty" json:"mtu,omitempty"`
}

// Log configures where the console's lines go besides the console.
type Log struct {
	// Syslog is udp://host:port or tcp://host:port: every agent and app
	// line also goes there as an RFC 5424 message.
	Syslog string `yaml:"syslog,omitempty" json:"syslog,omitempty"`
}

// Watchdog configures the hardware watchdog (/dev/watchdog).
type Watchdog struct {
	// Enabled arms the watchdog when the machine has one; nil means true.
	Enabled *bool `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	// Timeout is how long a hung agent goes unnoticed before the
	// machine is reset.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Time configures clock synchronisation.
type Time struct {
	// NTP lists SNTP servers; DHCP-offered ones are used too. nil means the
	// default pool, an empty list means DHCP-offered servers only.
	NTP []string `yaml:"ntp,omitempty" json:"ntp,omitempty"`
	// Wait bounds how long the app's start waits for the first sync.
	Wait Duration `yaml:"wait,omitempty" json:"wait,omitempty"`
}

// Duration is a time.Duration written in Go syntax ("10s", "1m30s").
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d in Go syntax.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d in Go syntax, so JSON and YAML round-trip.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses Go duration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Defaults applied by ApplyDefaults.
const (
	DefaultStopTimeout    = Duration(10 * time.Second)
	DefaultPersistentWait = Duration(10 * time.Second)
	DefaultNetworkWait    = Duration(30 * time.Second)
	DefaultTimeWait       = Duration(5 * time.Second)
	DefaultWatchdog       = Duration(60 * time.Second)
	DefaultCACerts        = "system"
	DefaultPersistentFS   = FSBtrfs
	DefaultLabel          = "tinyboot"
)

// DefaultNTP is used when time.ntp is not set at all.
var DefaultNTP = []string{"pool.ntp.org"}

// SecureBoot is the key the UKI is Authenticode-signed with: an
// unencrypted PEM RSA private key (2048 to 4096 bits) and its PEM
// certificate, the one enrolled in the firmware's db. Only the
// certificate's hash and the signature reach the cache and the image.
type SecureBoot struct {
	Key  string `yaml:"key" json:"key"`
	Cert string `yaml:"cert" json:"cert"`
}
