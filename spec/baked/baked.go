// Package baked defines the resolved spec the composer writes into an image
// at /etc/tinyboot/spec.json and the agent applies at boot.
//
// It is separate from package spec so that the agent, which is in every
// image and must stay small, links no YAML or schema code. Everything here
// is already resolved: no host paths, no defaults left to apply.
package baked

import (
	"encoding/json"
	"fmt"
	"time"
)

// Path is where the composer puts the baked spec inside the initramfs.
const Path = "/etc/tinyboot/spec.json"

// Version is the baked format's version; the agent refuses others.
const Version = 1

// Mount points the agent uses.
const (
	ISOMount        = "/iso"
	PersistentMount = "/persistent"
)

// NoISOParam is the kernel command-line word by which an output without
// an ISO (the kernel format, booted directly by QEMU -kernel or a microVM
// engine) tells the agent not to search for one: the search would only
// wait out its bound.
const NoISOParam = "tinyboot.iso=none"

// Config is the baked spec.
type Config struct {
	Version  int    `json:"version"`
	Name     string `json:"name"`
	Hostname string `json:"hostname"`
	// Arch is the image's architecture (amd64, arm64).
	Arch string `json:"arch,omitempty"`
	// KernelVersion names /lib/modules/<KernelVersion> in the initramfs.
	KernelVersion string `json:"kernel_version"`
	// Modules are in load order: every module after its dependencies.
	Modules []Module `json:"modules,omitempty"`
	App     App      `json:"app"`
	// ISO identifies the boot medium to mount at /iso.
	ISO ISO `json:"iso"`
	// Persistent is nil when the spec has no persistent volume.
	Persistent *Persistent `json:"persistent,omitempty"`
	Network    Network     `json:"network"`
	Time       Time        `json:"time"`
	// Log is where lines go besides the console.
	Log Log `json:"log"`
	// Watchdog is the hardware watchdog's configuration.
	Watchdog Watchdog `json:"watchdog"`
	// Timezone is the zone of /etc/localtime and TZ ("" is UTC, and the
	// image holds no zone data); Sysctl maps /proc/sys keys to values.
	Timezone string            `json:"timezone,omitempty"`
	Sysctl   map[string]string `json:"sysctl,omitempty"`
}

// ZoneinfoDir is where the zone database is unpacked in the image when
// the spec sets a timezone: the first place Go, glibc and musl look.
const ZoneinfoDir = "/usr/share/zoneinfo"

// User is the account the app runs as.
type User struct {
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Name   string   `json:"name"`
	Groups []uint32 `json:"groups,omitempty"`
}

// Module is one kernel module to load.
type Module struct {
	// Name is the module's canonical name (underscores), for logs.
	Name string `json:"name"`
	// Path is relative to /lib/modules/<KernelVersion>/ and names an
	// uncompressed .ko.
	Path string `json:"path"`
	// Params are module parameters ("key=value ..."), usually empty.
	Params string `json:"params,omitempty"`
	// Aliases are the module's alias= patterns from its .modinfo
	// (fnmatch, e.g. "pci:v00008086d000010D3sv*sd*bc*sc*i*"): the agent
	// loads the module when a device's modalias or a kernel request
	// matches one.
	Aliases []string `json:"aliases,omitempty"`
	// Needs are the modules (by Name, all earlier in Modules) that must be
	// loaded before this one: its depends= and its softdep pre: modules.
	Needs []string `json:"needs,omitempty"`
	// Always is set for the spec's own modules and what they need: loaded
	// at boot whatever the hardware.
	Always bool `json:"always,omitempty"`
}

// App is the program to run.
type App struct {
	// Path is the app's absolute path inside the initramfs.
	Path        string            `json:"path"`
	Args        []string          `json:"args,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	StopTimeout Duration          `json:"stop_timeout"`
	Restart     string            `json:"restart"` // never | on-failure | always
	OnExit      string            `json:"on_exit"` // reboot | poweroff | halt
	// User is nil for root. Capabilities are kept by a non-root user
	// (names as in capabilities(7)); Limits are rlimits by their spec name
	// ("nofile"), soft = hard.
	User         *User             `json:"user,omitempty"`
	Capabilities []string          `json:"capabilities,omitempty"`
	Limits       map[string]uint64 `json:"limits,omitempty"`
}

// ISO identifies the boot ISO.
type ISO struct {
	// VolumeID is the ISO9660 volume identifier the composer wrote; the
	// agent prefers the iso9660 device carrying it.
	VolumeID string `json:"volume_id"`
}

// Persistent is the writable volume.
type Persistent struct {
	Label    string   `json:"label"`
	FS       string   `json:"fs"` // btrfs | ext4
	Required bool     `json:"required"`
	Wait     Duration `json:"wait"`
}

// Network configures the NICs.
type Network struct {
	// DHCP is for the NICs Interfaces does not match.
	DHCP bool     `json:"dhcp"`
	Wait Duration `json:"wait"`
	// Interfaces are matched in order; a NIC takes the first that
	// matches it.
	Interfaces []Interface `json:"interfaces,omitempty"`
}

// Interface configures one NIC, matched by Name or MAC (exactly one set).
type Interface struct {
	Name string `json:"name,omitempty"`
	// MAC is lowercase, colon-separated.
	MAC  string `json:"mac,omitempty"`
	DHCP bool   `json:"dhcp"`
	// Addresses are CIDR strings, IPv4 and IPv6.
	Addresses []string `json:"addresses,omitempty"`
	Gateway   string   `json:"gateway,omitempty"`
	Gateway6  string   `json:"gateway6,omitempty"`
	DNS       []string `json:"dns,omitempty"`
	// MTU 0 leaves the link's MTU alone.
	MTU int `json:"mtu,omitempty"`
}

// Log configures remote logging.
type Log struct {
	// SyslogNetwork is "udp" or "tcp"; empty means no remote syslog.
	SyslogNetwork string `json:"syslog_network,omitempty"`
	// SyslogAddr is host:port.
	SyslogAddr string `json:"syslog_addr,omitempty"`
}

// Watchdog configures the hardware watchdog.
type Watchdog struct {
	Enabled bool     `json:"enabled"`
	Timeout Duration `json:"timeout"`
}

// Time configures SNTP.
type Time struct {
	NTP  []string `json:"ntp,omitempty"`
	Wait Duration `json:"wait"`
}

// Duration is a time.Duration that reads and writes Go syntax in JSON.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// MarshalText writes d in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText parses Go duration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Marshal encodes c deterministically (encoding/json sorts map keys).
func Marshal(c *Config) ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Unmarshal decodes and checks a baked spec.
func Unmarshal(b []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("baked spec: %w", err)
	}
	if c.Version != Version {
		return nil, fmt.Errorf("baked spec: version %d, this agent reads version %d", c.Version, Version)
	}
	if c.App.Path == "" {
		return nil, fmt.Errorf("baked spec: app.path is empty")
	}
	return &c, nil
}
