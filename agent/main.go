package agent

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/tinyboot/tinyboot/agent/acpi"
	"github.com/tinyboot/tinyboot/agent/console"
	"github.com/tinyboot/tinyboot/agent/dhcp"
	"github.com/tinyboot/tinyboot/agent/sntp"
	"github.com/tinyboot/tinyboot/spec/baked"
	"golang.org/x/sys/unix"
)

// badSpecDelay is how long the console shows why the spec was refused
// before the machine powers off.
const badSpecDelay = 30 * time.Second

// Main is PID 1: it sets up the system, reads the baked spec, and runs the
// app until the machine stops. It never returns.
func Main() {
	start := time.Now()
	errs := earlySetup()
	log := console.New(os.Stdout, nil)
	defer func() {
		// Last resort: Run recovers its own panics, this covers the rest.
		if r := recover(); r != nil {
			log.Printf("agent: panic: %v; rebooting", r)
			unix.Sync()
			_ = unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
			hang()
		}
	}()
	for _, err := range errs {
		log.Printf("setup: %v", err)
	}
	if err := loopbackUp(); err != nil {
		log.Printf("setup: %v", err)
	}
	log.Printf("setup: mounted filesystems in %s", console.Dur(time.Since(start)))

	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	sys := NewLinux(sigchld)

	cfg, err := LoadSpec(baked.Path)
	if err != nil {
		log.Printf("spec: %v", err)
		log.Printf("spec: cannot start the app; powering off in %s", badSpecDelay)
		time.Sleep(badSpecDelay)
		sys.Sync()
		_ = sys.Reboot(PowerOff)
		hang()
	}

	if err := registerModprobe(); err != nil {
		log.Printf("setup: %v", err)
	}

	events := make(chan Event, 8)
	send := func(e Event) {
		select {
		case events <- e:
		default: // a shutdown is already queued
		}
	}
	watchSignals(log, send)
	ctx := context.Background()
	go func() {
		defer recoverTo(log, "acpi")
		err := acpi.Listen(ctx, time.Second, log.Printf, func(e acpi.Event) {
			if e.DeviceClass == acpi.PowerButton {
				send(Event{Reason: "power button", Action: PowerOff})
			}
		})
		if err != nil {
			log.Printf("acpi: %v", err)
		}
	}()

	Run(ctx, cfg, Deps{
		Sys:    sys,
		Log:    log,
		Clock:  realClock{},
		Events: events,
		StartNetwork: func(ctx context.Context, hostname string) (Network, error) {
			return dhcp.Start(ctx, hostname, log.Printf)
		},
		SNTP: func(ctx context.Context, servers []string) (sntp.Result, error) {
			return sntp.First(ctx, servers, time.Now)
		},
		Hotplug:    linuxHotplug(log),
		ModuleJobs: runtime.NumCPU(),
	})
	// Only reached if reboot(2) failed: PID 1 must not exit.
	hang()
}

// watchSignals turns the signals the kernel and tools send PID 1 into
// shutdown events. Ctrl-Alt-Del is switched to a SIGINT to PID 1 so the
// app is stopped and disks unmounted before the reboot.
func watchSignals(log *console.Logger, send func(Event)) {
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); err != nil {
		log.Printf("setup: ctrl-alt-del to SIGINT: %v", err)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPWR)
	go func() {
		defer recoverTo(log, "signals")
		for s := range sigs {
			switch s {
			case syscall.SIGINT:
				send(Event{Reason: "ctrl-alt-del", Action: Reboot})
			case syscall.SIGTERM:
				send(Event{Reason: "SIGTERM", Action: PowerOff})
			case syscall.SIGUSR1: // busybox: halt
				send(Event{Reason: "SIGUSR1", Action: Halt})
			case syscall.SIGUSR2, syscall.SIGPWR: // busybox: poweroff
				send(Event{Reason: s.String(), Action: PowerOff})
			}
		}
	}()
}

// LoadSpec reads and checks the baked spec at path.
func LoadSpec(path string) (*baked.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	cfg, err := baked.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func recoverTo(log *console.Logger, what string) {
	if r := recover(); r != nil {
		log.Printf("agent: panic in %s: %v", what, r)
	}
}

// hang parks PID 1 forever; exiting would panic the kernel.
func hang() {
	for {
		time.Sleep(time.Hour)
	}
}
