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
	"github.com/tinyboot/tinyboot/agent/instance"
	"github.com/tinyboot/tinyboot/agent/netconf"
	"github.com/tinyboot/tinyboot/agent/powerkey"
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
	if IsExecHelper() {
		ExecHelper()
	}
	start := time.Now()
	// Before anything else: a signal Go's runtime has no handler for
	// ends the process, and PID 1 exiting panics the kernel.
	sigs := catchSignals()
	errs := earlySetup()
	log := console.New(os.Stdout, nil)
	remote := startEarlyLog(log)
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

	events := make(chan Event, 8)
	var send func(Event)
	ga := newGuestAgent(log, &send)
	send = func(e Event) {
		// A frozen /persistent would block the app's last writes.
		ga.ThawAll("shutdown requested")
		select {
		case events <- e:
		default: // a shutdown is already queued
		}
	}
	watchSignals(log, sigs, send)
	if err := listenControl(log, controlSocket, send); err != nil {
		log.Printf("setup: control socket: %v", err)
	}

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

	ctx := context.Background()
	remote.start(ctx, cfg, log, sys)
	wd := &watchdogKeeper{}
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
	// A device-tree machine (arm64 booted without UEFI) has its power
	// button as an input device, gpio-keys, and sends no ACPI event. A PC's
	// power button is always ACPI's, so only arm64 images watch for it.
	if cfg.Arch == "arm64" {
		go func() {
			defer recoverTo(log, "power key")
			powerkey.Listen(ctx, "/dev/input", "/sys/class/input", time.Second, log.Printf, func() {
				send(Event{Reason: "power button", Action: PowerOff})
			})
		}()
	}

	cmdline, _ := os.ReadFile("/proc/cmdline")
	Run(ctx, cfg, Deps{
		NoISO:        hasParam(string(cmdline), baked.NoISOParam),
		Sys:          &finalSystem{Linux: sys, log: log, remote: remote, watchdog: wd},
		AfterModules: func() { wd.arm(cfg.Watchdog, log) },
		Log:          log,
		Clock:        realClock{},
		Events:       events,
		StartNetwork: func(ctx context.Context, hostname string) (Network, error) {
			return netconf.Start(ctx, cfg.Network, hostname, log.Printf)
		},
		SNTP: func(ctx context.Context, servers []string) (sntp.Result, error) {
			return sntp.First(ctx, servers, time.Now)
		},
		GuestAgent: func(ctx context.Context) { serveGuestAgent(ctx, log, ga) },
		Instance:   instance.Load,
		SecureBoot: func() string { return secureBootState(sys, efiVarsDir, bootParams) },
		Hotplug:    linuxHotplug(log),
		ModuleJobs: runtime.NumCPU(),
	})
	// Only reached if reboot(2) failed: PID 1 must not exit.
	hang()
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
