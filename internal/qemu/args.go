// Package qemu boots images in QEMU with OVMF (UEFI) firmware, for users
// (`tbcompose run`) and for end-to-end tests: it finds the firmware,
// picks an accelerator that actually works, builds a command line a user
// can copy, and drives the machine over QMP.
package qemu

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// DefaultBinary is the QEMU system emulator used when Config.QEMU is empty.
const DefaultBinary = "qemu-system-x86_64"

// Medium says how the boot image is attached to the machine.
type Medium string

// Boot media.
const (
	MediumCDROM Medium = "cdrom" // IDE CD-ROM on the q35 AHCI controller
	MediumUSB   Medium = "usb"   // USB mass storage on an XHCI controller
	MediumRaw   Medium = "raw"   // virtio block device
)

// Accel is a QEMU accelerator.
type Accel string

// Accelerators.
const (
	AccelAuto Accel = "auto" // KVM (or HVF on macOS) when it works, TCG otherwise
	AccelKVM  Accel = "kvm"
	AccelHVF  Accel = "hvf"
	AccelTCG  Accel = "tcg" // pure emulation: slow but always there
)

// ParseAccel parses an accelerator name.
func ParseAccel(s string) (Accel, error) {
	switch a := Accel(s); a {
	case AccelAuto, AccelKVM, AccelHVF, AccelTCG:
		return a, nil
	case "":
		return AccelAuto, nil
	}
	return "", fmt.Errorf("accelerator %q: want auto, kvm, hvf or tcg", s)
}

// PortForward forwards a host TCP port to a guest TCP port through
// QEMU's user-mode network.
type PortForward struct {
	Host, Guest uint16
}

// ParsePortForward parses "HOST:GUEST".
func ParsePortForward(s string) (PortForward, error) {
	h, g, ok := strings.Cut(s, ":")
	if !ok {
		return PortForward{}, fmt.Errorf("publish %q: want HOST:GUEST", s)
	}
	hp, err := parsePort(h)
	if err != nil {
		return PortForward{}, fmt.Errorf("publish %q: host port: %w", s, err)
	}
	gp, err := parsePort(g)
	if err != nil {
		return PortForward{}, fmt.Errorf("publish %q: guest port: %w", s, err)
	}
	return PortForward{Host: hp, Guest: gp}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return uint16(n), nil
}

// String formats p as "HOST:GUEST".
func (p PortForward) String() string { return fmt.Sprintf("%d:%d", p.Host, p.Guest) }

// Config describes a machine to boot.
type Config struct {
	// Arch is the image's architecture: "" or amd64 for a PC, arm64 for
	// QEMU's virt machine (see aarch64.go).
	Arch     string
	QEMU     string   // emulator binary; DefaultBinary (arm64: qemu-system-aarch64) when empty
	Firmware Firmware // OVMF pair; found with FindFirmware("") when zero

	Image  string // boot image; none when empty (the firmware boots to its shell)
	Medium Medium // how Image is attached; MediumCDROM when empty
	Disks  []string

	Memory string // QEMU -m size such as "512M"; "512M" when empty
	CPUs   int    // 1 when zero

	Publish   []PortForward
	NoNetwork bool // no network card at all (also skips the firmware's PXE attempt)

	Accel    Accel // AccelAuto when empty
	NoReboot bool  // exit instead of rebooting when the guest resets

	Stdin      io.Reader // serial console input; none when nil
	Console    io.Writer // receives a copy of the serial console output
	ConsoleLog string    // file that receives a copy of the serial console output
	Stderr     io.Writer // receives a copy of QEMU's own diagnostics

	ExtraArgs []string // appended verbatim to the command line
}

// Instance holds the parts of the command line that differ between a
// machine Start runs and a command printed for a user to copy.
type Instance struct {
	// Vars is the machine's own writable copy of the firmware vars. When
	// empty, Config.Firmware.Vars is used with snapshot=on so QEMU never
	// writes the system copy.
	Vars string
	// QMPSocket is a unix socket QEMU connects to as a QMP client; no QMP
	// when empty.
	QMPSocket string
	// Interactive multiplexes the serial console with the QEMU monitor on
	// the terminal (Ctrl-A X quits) instead of plain serial on stdio.
	Interactive bool
}

var memoryRE = regexp.MustCompile(`^[1-9][0-9]*[KMGTkmgt]?$`)

// withDefaults fills in the documented defaults and checks the fields
// BuildArgs cannot pass to QEMU as they are.
func (c Config) withDefaults() (Config, error) {
	if c.QEMU == "" {
		c.QEMU = DefaultBinary
		if c.IsArm64() {
			c.QEMU = arm64Binary
		}
	}
	if c.Medium == "" {
		c.Medium = MediumCDROM
	}
	switch c.Medium {
	case MediumCDROM, MediumUSB, MediumRaw:
	default:
		return c, fmt.Errorf("boot medium %q: want cdrom, usb or raw", c.Medium)
	}
	if c.Memory == "" {
		c.Memory = "512M"
	}
	if !memoryRE.MatchString(c.Memory) {
		return c, fmt.Errorf("memory %q: want a size such as 512M or 2G", c.Memory)
	}
	if c.CPUs == 0 {
		c.CPUs = 1
	}
	if c.CPUs < 0 {
		return c, fmt.Errorf("cpus %d: want at least 1", c.CPUs)
	}
	a, err := ParseAccel(string(c.Accel))
	if err != nil {
		return c, err
	}
	c.Accel = a
	return c, nil
}

// BuildArgs returns the QEMU argv (argv[0] is the binary) for cfg. It does
// no I/O: cfg.Firmware must be set. AccelAuto becomes QEMU's own fallback
// list "-accel kvm -accel tcg", which only checks that KVM initialises;
// Start resolves AccelAuto by probing first (see ResolveAccel).
func BuildArgs(cfg Config, inst Instance) ([]string, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.IsArm64() {
		return buildArgsArm64(cfg, inst)
	}
	if cfg.Firmware.Code == "" || cfg.Firmware.Vars == "" {
		return nil, fmt.Errorf("build qemu command: firmware code and vars are required")
	}
	args := []string{cfg.QEMU, "-machine", "q35"}
	switch cfg.Accel {
	case AccelAuto:
		args = append(args, "-accel", "kvm", "-accel", "tcg")
	case AccelKVM, AccelHVF:
		args = append(args, "-accel", string(cfg.Accel), "-cpu", "host")
	default:
		args = append(args, "-accel", string(cfg.Accel))
	}
	args = append(args,
		"-m", cfg.Memory,
		"-smp", strconv.Itoa(cfg.CPUs),
		// No default devices and no host config files: the machine is
		// exactly what this argv says, on every host.
		"-nodefaults", "-no-user-config",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+optEscape(cfg.Firmware.Code),
	)
	if inst.Vars != "" {
		args = append(args, "-drive", "if=pflash,format=raw,unit=1,file="+optEscape(inst.Vars))
	} else {
		args = append(args, "-drive", "if=pflash,format=raw,unit=1,snapshot=on,file="+optEscape(cfg.Firmware.Vars))
	}
	if cfg.Image != "" {
		// The boot image is build output: attach it read-only so a run
		// never changes it. Persistent data belongs on Disks.
		drive := "if=none,id=boot,format=raw,readonly=on,file=" + optEscape(cfg.Image)
		switch cfg.Medium {
		case MediumCDROM:
			args = append(args, "-drive", drive+",media=cdrom",
				"-device", "ide-cd,drive=boot,bus=ide.1,bootindex=0")
		case MediumUSB:
			args = append(args, "-device", "qemu-xhci,id=xhci", "-drive", drive,
				"-device", "usb-storage,bus=xhci.0,drive=boot,bootindex=0")
		case MediumRaw:
			args = append(args, "-drive", drive, "-device", "virtio-blk-pci,drive=boot,bootindex=0")
		}
	}
	for _, d := range cfg.Disks {
		args = append(args, "-drive", "if=virtio,format=raw,file="+optEscape(d))
	}
	if cfg.NoNetwork {
		args = append(args, "-nic", "none")
	} else {
		nic := "user,model=virtio-net-pci"
		for _, p := range cfg.Publish {
			nic += fmt.Sprintf(",hostfwd=tcp::%d-:%d", p.Host, p.Guest)
		}
		args = append(args, "-nic", nic)
	}
	args = append(args,
		// Entropy from the host so the guest's first getrandom does not
		// wait, and a panic device so a guest kernel panic ends the run
		// as "guest-panic" rather than as a reset.
		"-device", "virtio-rng-pci",
		"-device", "pvpanic",
		"-display", "none",
	)
	if inst.Interactive {
		args = append(args, "-serial", "mon:stdio")
	} else {
		args = append(args, "-serial", "stdio")
	}
	if inst.QMPSocket != "" {
		// QEMU connects to our listener rather than the other way round,
		// so there is no window in which we poll for the socket.
		args = append(args, "-qmp", "unix:"+optEscape(inst.QMPSocket))
	}
	if cfg.NoReboot {
		args = append(args, "-no-reboot")
	}
	return append(args, cfg.ExtraArgs...), nil
}

// optEscape escapes a value inside a QEMU option string, where a comma
// separates options and ",," stands for a literal comma.
func optEscape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// ShellQuote joins argv into one line a POSIX shell parses back into the
// same words.
func ShellQuote(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(shellWord(a))
	}
	return b.String()
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

func shellWord(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
