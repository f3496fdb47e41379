package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinyboot/tinyboot/internal/bootdisk"
	"github.com/tinyboot/tinyboot/internal/qemu"
)

// Exit codes of `tbcompose run` beyond those in main.go.
const (
	exitRebooted = 3   // the guest rebooted under --no-reboot
	exitStopped  = 130 // QEMU was stopped from the host: second Ctrl-C, a signal, QMP quit
)

type runOptions struct {
	firmware   string
	memory     string
	cpus       int
	publish    []string
	disks      []string
	cdrom      bool
	usb        bool
	raw        bool
	scsi       bool
	machine    string
	accel      string
	noReboot   bool
	printCmd   bool
	consoleLog string
	envFile    string // passed as fw_cfg opt/tinyboot/env (envfile.go)
	secureBoot string
}

func newRunCmd() *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [tinyboot.yaml | image.iso | image.img | image.efi | name-kernel/ | image.tar.gz]",
		Short: "Boot an image in QEMU, building it first when given a spec",
		Long: `run boots any format tbcompose build writes in QEMU, its serial console on
this terminal. Given a spec (the default is ./tinyboot.yaml) it builds it
first and boots its ISO, or else the first of its raw, gce, uki and kernel
outputs (the kernel format on --machine microvm and --firmware none).
What it boots is told by the name, or by the first bytes:

  .iso             the hybrid ISO, as a CD (--usb, --raw: as a stick, a disk)
  .img, .raw       the raw disk image, as a virtio disk
  .efi             the UKI alone, from a throwaway ESP, under UEFI
  a directory      the kernel format (vmlinuz, initrd.img, cmdline), booted
                   directly with QEMU's -kernel, -initrd and -append
  .tar.gz, .tgz    the GCE archive: its disk.raw, extracted sparse into a
                   temporary directory, on virtio-scsi as on GCE

--firmware is uefi (OVMF) by default, none (direct kernel boot) for the
kernel format; bios is QEMU's SeaBIOS. --machine microvm boots the kernel
format on QEMU's microvm machine (virtio-mmio NIC and disks, no PCI), the
machine Firecracker's is modelled on.

KVM (HVF on macOS) is used when it works, TCG emulation otherwise. The
machine gets user-mode networking (--publish forwards host ports to the
guest, on 127.0.0.1 unless an address is given) and one virtio disk per
--disk (see tbcompose disk create). The boot image itself is attached
read-only.

Ctrl-C presses the ACPI power button once the guest's agent is up, so the
guest can shut down cleanly; before that (firmware, kernel) and on a second
Ctrl-C it stops QEMU.

Exit codes:
  0    the guest powered off
  1    QEMU failed, or the guest panicked
  2    bad usage
  3    the guest rebooted (only with --no-reboot; otherwise it restarts)
  130  QEMU was stopped from the host (second Ctrl-C, a signal, QMP quit)`,
		Example: `  tbcompose run                              # build ./tinyboot.yaml and boot it
  tbcompose run hello.iso --publish 8080:80 --disk data.img
  tbcompose run hello.iso --firmware bios     # SeaBIOS instead of OVMF
  tbcompose run hello-kernel/ --machine microvm --publish 1053:53/udp
  tbcompose run hello.efi --print-cmd         # show the qemu command instead`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := "tinyboot.yaml"
			if len(args) == 1 {
				target = args[0]
			}
			return o.run(cmd, target)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.firmware, "firmware", "", "uefi (OVMF, found in the usual places), bios (SeaBIOS), none (direct kernel boot) or OVMF files CODE[,VARS] (default: uefi; none for the kernel format)")
	f.StringVar(&o.machine, "machine", "q35", "machine type: q35 or microvm (the kernel format only); arm64 images run on virt")
	f.StringVar(&o.memory, "memory", "512M", "guest memory, such as 512M or 2G")
	f.IntVar(&o.cpus, "cpus", 1, "virtual CPUs")
	f.StringArrayVar(&o.publish, "publish", nil, "forward a host port to a guest port, [ADDR:]HOST:GUEST[/tcp|/udp]; ADDR is 127.0.0.1 unless given (repeatable)")
	f.StringArrayVar(&o.disks, "disk", nil, "attach a raw image FILE as a virtio disk (repeatable)")
	f.BoolVar(&o.cdrom, "cdrom", false, "attach the image as a CD-ROM (the default)")
	f.BoolVar(&o.usb, "usb", false, "attach the image as a USB stick")
	f.BoolVar(&o.raw, "raw", false, "attach the image as a virtio disk (the default for .img)")
	f.BoolVar(&o.scsi, "scsi", false, "attach the image as a disk on a virtio-scsi controller (the default for a GCE archive)")
	f.StringVar(&o.accel, "accel", "auto", "accelerator: auto, kvm (Linux), hvf (macOS) or tcg")
	f.BoolVar(&o.noReboot, "no-reboot", false, "exit (code 3) instead of restarting when the guest reboots")
	f.BoolVar(&o.printCmd, "print-cmd", false, "print the qemu command line and exit without booting")
	f.StringVar(&o.consoleLog, "console-log", "", "also write the serial console to FILE")
	f.StringVar(&o.envFile, "env-file", "", "give the app the KEY=VALUE lines of FILE, over app.env, through fw_cfg (never baked into the image)")
	f.StringVar(&o.secureBoot, "secure-boot", "", "boot OVMF's Secure Boot build with the key set in DIR enrolled (see tbcompose keys)")
	cmd.MarkFlagsMutuallyExclusive("cdrom", "usb", "raw", "scsi")
	cmd.MarkFlagsMutuallyExclusive("firmware", "secure-boot")
	return cmd
}

func init() { register(newRunCmd) }

// config turns the flags into a machine description without the image.
func (o *runOptions) config() (qemu.Config, error) {
	cfg := qemu.Config{
		Memory:     o.memory,
		CPUs:       o.cpus,
		Disks:      o.disks,
		NoReboot:   o.noReboot,
		ConsoleLog: o.consoleLog,
		Medium:     o.medium(),
	}
	if o.cpus < 1 {
		return cfg, fmt.Errorf("--cpus %d: want at least 1", o.cpus)
	}
	var err error
	if cfg.Accel, err = qemu.ParseAccel(o.accel); err != nil {
		return cfg, fmt.Errorf("--accel: %w", err)
	}
	// A printed command may be meant for another host.
	if err := qemu.CheckAccelHost(cfg.Accel); err != nil && !o.printCmd {
		return cfg, fmt.Errorf("--accel: %w", err)
	}
	if cfg.Machine, err = qemu.ParseMachine(o.machine); err != nil {
		return cfg, fmt.Errorf("--machine: %w", err)
	}
	for _, p := range o.publish {
		pf, err := qemu.ParsePortForward(p)
		if err != nil {
			return cfg, fmt.Errorf("--publish: %w", err)
		}
		cfg.Publish = append(cfg.Publish, pf)
	}
	for _, d := range o.disks {
		if fi, err := os.Stat(d); err != nil {
			return cfg, fmt.Errorf("--disk: %w", err)
		} else if !fi.Mode().IsRegular() {
			return cfg, fmt.Errorf("--disk %s: not a regular file", d)
		}
	}
	if err := o.addEnvFile(&cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func (o *runOptions) run(cmd *cobra.Command, target string) error {
	cfg, err := o.config()
	if err != nil {
		return withCode(exitUsage, err)
	}
	kind, err := detectTarget(target)
	if err != nil {
		return withCode(exitUsage, err)
	}
	// A spec is built, then booted as the output it has that suits the
	// machine asked for; from here on kind is that output's.
	specPath, bootFormat := "", ""
	if kind == targetSpec {
		specPath = target
		if bootFormat, err = o.specBootFormat(target); err != nil {
			return withCode(exitUsage, err)
		}
		kind = formatTargets[bootFormat]
	}
	fwOverride, err := o.firmwareFor(&cfg, kind)
	if err != nil {
		return withCode(exitUsage, err)
	}
	// Check the flags before a possibly long build.
	if _, err := qemu.BuildArgs(withFakeBoot(cfg, kind), qemu.Instance{}); err != nil {
		return withCode(exitUsage, err)
	}
	// A taken host port is reported before the build too; Start still
	// reports one taken between this check and QEMU's bind.
	if !o.printCmd {
		if err := qemu.CheckPorts(cfg.Publish); err != nil {
			return withCode(exitInvalid, fmt.Errorf("--%w", err))
		}
	}
	stderr := cmd.ErrOrStderr()
	tmp, err := os.MkdirTemp("", "tbcompose-run-")
	if err != nil {
		return withCode(exitInvalid, err)
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(tmp)
		}
	}()
	if specPath != "" {
		if target, err = buildForRun(cmd, specPath, bootFormat); err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				return err
			}
			return withCode(exitInvalid, err)
		}
	}
	switch kind {
	case targetISO, targetRaw:
		cfg.Image = target
	case targetUKI:
		if cfg.Image, err = bootdisk.UKIDisk(target, tmp); err != nil {
			return withCode(exitInvalid, err)
		}
		keep = o.printCmd
	case targetGCE:
		if cfg.Image, err = bootdisk.ExtractGCE(target, tmp); err != nil {
			return withCode(exitInvalid, err)
		}
		keep = o.printCmd
	case targetKernel:
		if err := readKernelDir(&cfg, target); err != nil {
			return withCode(exitInvalid, err)
		}
	}
	if keep {
		fmt.Fprintf(stderr, "tbcompose: the disk this command boots is kept in %s; remove it when done\n", tmp)
	}
	cfg.Arch = runArch(kind, target, cfg.Image)
	if cfg.Arch == "arm64" && !cmd.Flags().Changed("machine") {
		cfg.Machine = qemu.MachineVirt // --machine's default is the PC's
	}
	if cfg.FirmwareKind != qemu.FirmwareUEFI {
		// SeaBIOS, qboot and -kernel come with QEMU.
	} else if o.secureBoot != "" {
		var cleanup func()
		if cfg, cleanup, err = secureBootConfig(cfg, o.secureBoot); err != nil {
			return withCode(exitInvalid, err)
		}
		if o.printCmd {
			// The printed command needs the enrolled store after we exit.
			fmt.Fprintf(stderr, "tbcompose: enrolled variable store %s is kept for this command\n", cfg.Firmware.Vars)
		} else {
			defer cleanup()
		}
	} else if cfg.Firmware, err = findFirmwareFor(cfg, fwOverride); err != nil {
		return withCode(exitInvalid, err)
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}

	if o.printCmd {
		// Resolve "auto" here so the printed command says what this host
		// would run; without QEMU installed, print QEMU's own fallback.
		if p, err := qemu.LookPath(cfg.QEMU); err == nil {
			if cfg.Accel, err = qemu.ResolveAccel(ctx, p, cfg.Accel); err != nil {
				return withCode(exitInvalid, err)
			}
		}
		args, err := qemu.BuildArgs(cfg, qemu.Instance{Interactive: true})
		if err != nil {
			return withCode(exitUsage, err)
		}
		fmt.Fprintln(cmd.OutOrStdout(), qemu.ShellQuote(args))
		return nil
	}

	p, err := qemu.LookPath(cfg.QEMU)
	if err != nil {
		return withCode(exitInvalid, err)
	}
	if cfg.Accel == qemu.AccelAuto {
		if cfg.Accel, err = qemu.ResolveAccel(ctx, p, cfg.Accel); err != nil {
			return withCode(exitInvalid, err)
		}
		if cfg.Accel == qemu.AccelTCG {
			fmt.Fprintln(stderr, "tbcompose: no working hardware acceleration here; emulating with TCG (slower)")
		}
	}
	watch := newConsoleWatch(stderr, o.noReboot)
	cfg.Stdin = cmd.InOrStdin()
	cfg.Console = cmd.OutOrStdout()
	// QEMU's diagnostics reach the terminal once the machine runs; a
	// failed start quotes them in its error, so they are not shown twice.
	held := &heldWriter{w: stderr}
	cfg.Stderr = held

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	vm, err := qemu.Start(ctx, cfg)
	if err != nil {
		if errors.Is(err, qemu.ErrPortInUse) {
			err = fmt.Errorf("%w; another program took a --publish host port as QEMU started: pick another", err)
		}
		return withCode(exitInvalid, err)
	}
	held.release()
	go watch.follow(vm.Console)
	e := superviseVM(vm, sigs, stderr, watch.AgentUp)
	code, err := runExitCode(e)
	if e.Reason == qemu.ExitReboot {
		if why := watch.lastAppExit(); why != "" {
			err = fmt.Errorf("%s and the guest rebooted; --no-reboot stopped it", why)
		}
	}
	if code == exitOK {
		return nil
	}
	return withCode(code, err)
}

// medium is the boot medium the flags ask for; "" when they ask none, so
// the target's own default applies.
func (o *runOptions) medium() qemu.Medium {
	switch {
	case o.cdrom:
		return qemu.MediumCDROM
	case o.usb:
		return qemu.MediumUSB
	case o.raw:
		return qemu.MediumRaw
	case o.scsi:
		return qemu.MediumSCSI
	}
	return ""
}

// firmwareFor sets cfg's firmware kind and medium from --firmware, the
// flags and what is booted, refusing the combinations that cannot boot.
// It returns the OVMF files named by --firmware CODE[,VARS], if any.
func (o *runOptions) firmwareFor(cfg *qemu.Config, kind targetKind) (string, error) {
	override := ""
	switch o.firmware {
	case "":
		cfg.FirmwareKind = qemu.FirmwareUEFI
		if kind == targetKernel {
			cfg.FirmwareKind = qemu.FirmwareNone
		}
	case string(qemu.FirmwareUEFI), string(qemu.FirmwareBIOS), string(qemu.FirmwareNone):
		cfg.FirmwareKind = qemu.FirmwareKind(o.firmware)
	default:
		cfg.FirmwareKind, override = qemu.FirmwareUEFI, o.firmware
	}
	what := map[targetKind]string{
		targetISO: "an ISO", targetRaw: "a raw disk image",
		targetUKI: "a UKI", targetKernel: "the kernel format", targetGCE: "a GCE image",
	}[kind]
	if cfg.Machine == qemu.MachineMicroVM && kind != targetKernel {
		return "", fmt.Errorf("--machine microvm boots the kernel format only (it has no firmware to boot %s from a disk); build it with tbcompose build --format kernel, or use --machine q35", what)
	}
	if o.secureBoot != "" && (cfg.FirmwareKind != qemu.FirmwareUEFI || kind == targetKernel) {
		return "", fmt.Errorf("--secure-boot boots a signed image under OVMF; it does not go with --firmware %s or %s", cfg.FirmwareKind, what)
	}
	switch {
	case cfg.FirmwareKind == qemu.FirmwareNone && kind != targetKernel:
		return "", fmt.Errorf("--firmware none is direct kernel boot, for the kernel format; %s needs --firmware uefi or bios", what)
	case cfg.FirmwareKind == qemu.FirmwareBIOS && kind == targetUKI:
		return "", fmt.Errorf("--firmware bios cannot start a UKI: it is an EFI program; use --firmware uefi, or boot the ISO or raw image under BIOS")
	case cfg.Machine == qemu.MachineMicroVM && cfg.FirmwareKind == qemu.FirmwareUEFI:
		return "", fmt.Errorf("--machine microvm has no UEFI firmware: use --firmware none (the default for the kernel format)")
	}
	if kind == targetKernel || kind == targetUKI {
		if m := o.medium(); m != "" {
			return "", fmt.Errorf("--%s attaches an image; %s is not one (a UKI boots from its own ESP, the kernel format with -kernel)", m, what)
		}
	}
	if cfg.Medium == "" {
		switch kind {
		case targetRaw, targetUKI:
			cfg.Medium = qemu.MediumRaw
		case targetGCE:
			cfg.Medium = qemu.MediumSCSI
		default:
			cfg.Medium = qemu.MediumCDROM
		}
	}
	return override, nil
}

// withFakeBoot fills in placeholder firmware and boot files so BuildArgs
// can check the rest of cfg before the real ones exist.
func withFakeBoot(cfg qemu.Config, kind targetKind) qemu.Config {
	cfg.Firmware = qemu.Firmware{Code: "code", Vars: "vars"}
	if kind == targetKernel {
		cfg.Kernel = "vmlinuz"
	} else {
		cfg.Image = "image"
	}
	return cfg
}

// superviseVM waits for the machine to end, turning the first Ctrl-C
// into an ACPI power button press and a second one (or SIGTERM) into a
// quit. Before the guest's agent is up (agentUp false: firmware, kernel,
// or a shutdown under way) nothing would answer the button, so a Ctrl-C
// stops QEMU at once.
func superviseVM(vm *qemu.VM, sigs <-chan os.Signal, stderr io.Writer, agentUp func() bool) qemu.Exit {
	pressed := false
	for {
		select {
		case <-vm.Done():
			return vm.Wait()
		case sig := <-sigs:
			if sig == os.Interrupt && !pressed && !agentUp() {
				fmt.Fprintln(stderr, "tbcompose: the guest's agent is not up yet (firmware or kernel), so nothing answers the power button")
			} else if sig == os.Interrupt && !pressed {
				pressed = true
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := vm.Powerdown(ctx)
				cancel()
				if err == nil {
					fmt.Fprintln(stderr, "tbcompose: sent power button; press Ctrl-C again to stop the VM")
					continue
				}
				fmt.Fprintf(stderr, "tbcompose: %v\n", err)
			}
			fmt.Fprintln(stderr, "tbcompose: stopping the VM")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := vm.Quit(ctx); err != nil {
				fmt.Fprintf(stderr, "tbcompose: %v\n", err)
			}
			cancel()
			return vm.Wait()
		}
	}
}

// runExitCode maps how the machine ended to the exit code documented in
// the run command's help, with the message to print for non-zero codes.
func runExitCode(e qemu.Exit) (int, error) {
	switch e.Reason {
	case qemu.ExitPoweroff:
		return exitOK, nil
	case qemu.ExitReboot:
		return exitRebooted, errors.New("the guest rebooted (--no-reboot)")
	case qemu.ExitPanic:
		return exitInvalid, errors.New("the guest kernel panicked")
	case qemu.ExitQuit, qemu.ExitSignal, qemu.ExitKilled:
		return exitStopped, fmt.Errorf("QEMU was stopped (%s)", e.Reason)
	}
	if e.Err != nil {
		return exitInvalid, fmt.Errorf("QEMU failed: %w", e.Err)
	}
	return exitInvalid, fmt.Errorf("QEMU failed: %s", e)
}
