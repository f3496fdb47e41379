package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

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
		Use:   "run [tinyboot.yaml | image.iso]",
		Short: "Boot an image in QEMU, building it first when given a spec",
		Long: `run boots an image in QEMU with UEFI (OVMF) firmware, its serial console on
this terminal. Given a spec (the default is ./tinyboot.yaml) it builds the
image first; given an .iso or .img file, or any ISO 9660 image, it boots that.

KVM is used when it works, TCG emulation otherwise. The machine gets
user-mode networking (--publish forwards host TCP ports to the guest) and
one virtio disk per --disk (see tbcompose disk create). The boot image
itself is attached read-only.

Ctrl-C presses the ACPI power button, so the guest can shut down cleanly;
a second Ctrl-C stops QEMU.

Exit codes:
  0    the guest powered off
  1    QEMU failed, or the guest panicked
  2    bad usage
  3    the guest rebooted (only with --no-reboot; otherwise it restarts)
  130  QEMU was stopped from the host (second Ctrl-C, a signal, QMP quit)`,
		Example: `  tbcompose run                              # build ./tinyboot.yaml and boot it
  tbcompose run hello.iso --publish 8080:80 --disk data.img
  tbcompose run hello.iso --print-cmd        # show the qemu command instead`,
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
	f.StringVar(&o.firmware, "firmware", "", "OVMF firmware: CODE or CODE,VARS (default: found in the usual places)")
	f.StringVar(&o.memory, "memory", "512M", "guest memory, such as 512M or 2G")
	f.IntVar(&o.cpus, "cpus", 1, "virtual CPUs")
	f.StringArrayVar(&o.publish, "publish", nil, "forward host TCP port to guest port, HOST:GUEST (repeatable)")
	f.StringArrayVar(&o.disks, "disk", nil, "attach a raw image FILE as a virtio disk (repeatable)")
	f.BoolVar(&o.cdrom, "cdrom", false, "attach the image as a CD-ROM (the default)")
	f.BoolVar(&o.usb, "usb", false, "attach the image as a USB stick")
	f.BoolVar(&o.raw, "raw", false, "attach the image as a virtio disk")
	f.StringVar(&o.accel, "accel", "auto", "accelerator: auto, kvm or tcg")
	f.BoolVar(&o.noReboot, "no-reboot", false, "exit (code 3) instead of restarting when the guest reboots")
	f.BoolVar(&o.printCmd, "print-cmd", false, "print the qemu command line and exit without booting")
	f.StringVar(&o.consoleLog, "console-log", "", "also write the serial console to FILE")
	f.StringVar(&o.envFile, "env-file", "", "give the app the KEY=VALUE lines of FILE, over app.env, through fw_cfg (never baked into the image)")
	f.StringVar(&o.secureBoot, "secure-boot", "", "boot OVMF's Secure Boot build with the key set in DIR enrolled (see tbcompose keys)")
	cmd.MarkFlagsMutuallyExclusive("cdrom", "usb", "raw")
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
		Medium:     qemu.MediumCDROM,
	}
	switch {
	case o.usb:
		cfg.Medium = qemu.MediumUSB
	case o.raw:
		cfg.Medium = qemu.MediumRaw
	}
	if o.cpus < 1 {
		return cfg, fmt.Errorf("--cpus %d: want at least 1", o.cpus)
	}
	var err error
	if cfg.Accel, err = qemu.ParseAccel(o.accel); err != nil {
		return cfg, fmt.Errorf("--accel: %w", err)
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
	// Check the flags before a possibly long build.
	if _, err := qemu.BuildArgs(withFakeFirmware(cfg), qemu.Instance{}); err != nil {
		return withCode(exitUsage, err)
	}
	image, err := isImage(target)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if image {
		cfg.Image = target
	} else if cfg.Image, err = buildForRun(cmd, target); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		return withCode(exitInvalid, err)
	}
	cfg.Arch = imageArch(cfg.Image)
	if o.secureBoot != "" {
		var cleanup func()
		if cfg, cleanup, err = secureBootConfig(cfg, o.secureBoot); err != nil {
			return withCode(exitInvalid, err)
		}
		if o.printCmd {
			// The printed command needs the enrolled store after we exit.
			fmt.Fprintf(cmd.ErrOrStderr(), "tbcompose: enrolled variable store %s is kept for this command\n", cfg.Firmware.Vars)
		} else {
			defer cleanup()
		}
	} else if cfg.Firmware, err = findFirmwareFor(cfg, o.firmware); err != nil {
		return withCode(exitInvalid, err)
	}
	stderr := cmd.ErrOrStderr()
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
	cfg.Stdin = cmd.InOrStdin()
	cfg.Console = cmd.OutOrStdout()
	cfg.Stderr = stderr

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	vm, err := qemu.Start(ctx, cfg)
	if err != nil {
		return withCode(exitInvalid, err)
	}
	code, err := runExitCode(superviseVM(vm, sigs, stderr))
	if code == exitOK {
		return nil
	}
	return withCode(code, err)
}

// withFakeFirmware fills in placeholder firmware so BuildArgs can check
// the rest of cfg before the real firmware is looked for.
func withFakeFirmware(cfg qemu.Config) qemu.Config {
	cfg.Firmware = qemu.Firmware{Code: "code", Vars: "vars"}
	return cfg
}

// isImage says whether path is a bootable image rather than a spec: it
// is named .iso or .img, or it holds an ISO 9660 volume descriptor
// ("CD001" at byte 32769).
func isImage(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, fmt.Errorf("run: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("run: %s is not a regular file", path)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".iso", ".img":
		return true, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("run: %w", err)
	}
	defer f.Close()
	magic := make([]byte, 5)
	if _, err := f.ReadAt(magic, 32769); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, fmt.Errorf("run: %w", err)
	}
	return string(magic) == "CD001", nil
}

// superviseVM waits for the machine to end, turning the first Ctrl-C into
// an ACPI power button press and a second one (or SIGTERM) into a quit.
func superviseVM(vm *qemu.VM, sigs <-chan os.Signal, stderr io.Writer) qemu.Exit {
	pressed := false
	for {
		select {
		case <-vm.Done():
			return vm.Wait()
		case sig := <-sigs:
			if sig == os.Interrupt && !pressed {
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
