// Package qemu boots images and kernels in QEMU, for users (`tbcompose
// run`) and for end-to-end tests: on q35 under OVMF (UEFI), SeaBIOS or by
// direct kernel boot, and on the microvm machine with virtio-mmio
// devices. It finds the firmware,
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
	MediumSCSI  Medium = "scsi"  // disk on a virtio-scsi controller, as on Google Compute Engine
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

// Config describes a machine to boot.
type Config struct {
	QEMU string // emulator binary; DefaultBinary (arm64: qemu-system-aarch64) when empty

	// Arch is the guest's architecture: "" or amd64 for a PC, arm64 for
	// QEMU's virt machine (see aarch64.go).
	Arch string
	// Machine is the machine type; MachineQ35 when empty (MachineVirt
	// for arm64).
	Machine Machine
	// FirmwareKind is what runs first: FirmwareUEFI when empty, or
	// FirmwareNone when Kernel is set.
	FirmwareKind FirmwareKind
	// Firmware is the OVMF pair FirmwareUEFI boots (AAVMF for arm64);
	// found with FindFirmware("") when zero. Unused by the other kinds.
	Firmware Firmware

	Image  string // boot image; none when empty (the firmware boots to its shell)
	Medium Medium // how Image is attached; MediumCDROM when empty
	Disks  []string

	// Kernel, Initrd and Append boot a kernel directly (QEMU's -kernel,
	// -initrd and -append), instead of an Image.
	Kernel string
	Initrd string
	Append string

	Memory string // QEMU -m size such as "512M"; "512M" when empty
	CPUs   int    // 1 when zero

	Publish   []PortForward // host ports forwarded to the guest (127.0.0.1 unless they name an address)
	NoNetwork bool          // no network card at all (also skips the firmware's PXE attempt)

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
	if err := c.archDefaults(); err != nil {
		return c, err
	}
	if c.QEMU == "" {
		c.QEMU = DefaultBinary
	}
	if c.Medium == "" {
		c.Medium = MediumCDROM
	}
	var err error
	if c.Machine, err = ParseMachine(string(c.Machine)); err != nil {
		return c, err
	}
	if c.FirmwareKind == "" {
		c.FirmwareKind = FirmwareUEFI
		if c.Kernel != "" {
			c.FirmwareKind = FirmwareNone
		}
	}
	if _, err := ParseFirmwareKind(string(c.FirmwareKind)); err != nil {
		return c, err
	}
	if err := c.checkMachine(); err != nil {
		return c, err
	}
	switch c.Medium {
	case MediumCDROM, MediumUSB, MediumRaw, MediumSCSI:
	default:
		return c, fmt.Errorf("boot medium %q: want cdrom, usb, raw or scsi", c.Medium)
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
// no I/O: under FirmwareUEFI cfg.Firmware must be set. AccelAuto becomes
// QEMU's own fallback list "-accel kvm -accel tcg", which only checks that
// KVM initialises; Start resolves AccelAuto by probing first (see
// ResolveAccel).
func BuildArgs(cfg Config, inst Instance) ([]string, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	uefi := cfg.FirmwareKind == FirmwareUEFI
	if uefi && (cfg.Firmware.Code == "" || cfg.Firmware.Vars == "") {
		return nil, fmt.Errorf("build qemu command: firmware code and vars are required")
	}
	micro := cfg.Machine == MachineMicroVM
	args := []string{cfg.QEMU, "-machine", string(cfg.Machine)}
	switch cfg.Accel {
	case AccelAuto:
		args = append(args, "-accel", string(hostHardwareAccel()), "-accel", "tcg")
	case AccelKVM, AccelHVF:
		args = append(args, "-accel", string(cfg.Accel), "-cpu", "host")
	default:
		args = append(args, "-accel", string(cfg.Accel))
	}
	if cfg.Machine == MachineVirt {
		args = append(args, virtCPU(cfg.Accel)...)
	}
	args = append(args,
		"-m", cfg.Memory,
		"-smp", strconv.Itoa(cfg.CPUs),
		// No default devices and no host config files: the machine is
		// exactly what this argv says, on every host.
		"-nodefaults", "-no-user-config",
	)
	// FirmwareBIOS and FirmwareNone add nothing: QEMU's built-in BIOS is
	// its default, and -kernel is loaded through it.
	if uefi {
		args = append(args, "-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+optEscape(cfg.Firmware.Code))
		if inst.Vars != "" {
			args = append(args, "-drive", "if=pflash,format=raw,unit=1,file="+optEscape(inst.Vars))
		} else {
			args = append(args, "-drive", "if=pflash,format=raw,unit=1,snapshot=on,file="+optEscape(cfg.Firmware.Vars))
		}
	}
	if cfg.Kernel != "" {
		args = append(args, "-kernel", cfg.Kernel)
		if cfg.Initrd != "" {
			args = append(args, "-initrd", cfg.Initrd)
		}
		cmdline := cfg.Append
		if micro {
			cmdline = microVMAppend(cmdline, cfg.Accel)
		}
		if cmdline != "" {
			args = append(args, "-append", cmdline)
		}
	}
	if cfg.Image != "" {
		// The boot image is build output: attach it read-only so a run
		// never changes it. Persistent data belongs on Disks.
		drive := "if=none,id=boot,format=raw,readonly=on,file=" + optEscape(cfg.Image)
		switch cfg.Medium {
		case MediumCDROM:
			if cfg.Machine == MachineVirt {
				args = append(args, virtCDROM(drive)...)
				break
			}
			args = append(args, "-drive", drive+",media=cdrom",
				"-device", "ide-cd,drive=boot,bus=ide.1,bootindex=0")
		case MediumUSB:
			args = append(args, "-device", "qemu-xhci,id=xhci", "-drive", drive,
				"-device", "usb-storage,bus=xhci.0,drive=boot,bootindex=0")
		case MediumRaw:
			args = append(args, "-drive", drive, "-device", "virtio-blk-pci,drive=boot,bootindex=0")
		case MediumSCSI:
			args = append(args, "-device", "virtio-scsi-pci,id=scsi", "-drive", drive,
				"-device", "scsi-hd,drive=boot,bus=scsi.0,bootindex=0")
		}
	}
	for i, d := range cfg.Disks {
		if micro {
			id := fmt.Sprintf("disk%d", i)
			args = append(args, "-drive", "if=none,id="+id+",format=raw,file="+optEscape(d),
				"-device", "virtio-blk-device,drive="+id)
		} else {
			args = append(args, "-drive", "if=virtio,format=raw,file="+optEscape(d))
		}
	}
	var fwds strings.Builder
	for _, p := range cfg.Publish {
		fwds.WriteString(",hostfwd=" + p.hostfwd())
	}
	switch {
	case cfg.NoNetwork:
		args = append(args, "-nic", "none")
	case micro:
		args = append(args, "-netdev", "user,id=net0"+fwds.String(), "-device", "virtio-net-device,netdev=net0")
	default:
		args = append(args, "-nic", "user,model=virtio-net-pci"+fwds.String())
	}
	// Entropy from the host so the guest's first getrandom does not
	// wait, and a panic device so a guest kernel panic ends the run as
	// "guest-panic" rather than as a reset.
	if micro {
		// i8042: the keyboard controller Firecracker also emulates, for
		// Ctrl-Alt-Del (see VM.CtrlAltDel); microvm has none by default.
		args = append(args, "-device", "virtio-rng-device", "-device", "pvpanic", "-device", "i8042")
	} else if cfg.Machine == MachineVirt {
		args = append(args, "-device", "virtio-rng-pci", "-device", "pvpanic-pci")
	} else {
		args = append(args, "-device", "virtio-rng-pci", "-device", "pvpanic")
	}
	args = append(args, "-display", "none")
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
