package agent

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/tinyboot/tinyboot/agent/console"
	"golang.org/x/sys/unix"
)

// shutdownSignals map the signals PID 1 obeys to what they ask for:
// busybox init's convention (SIGTERM reboot, SIGUSR2 power-off, SIGUSR1
// halt), SIGPWR from a UPS daemon, and SIGINT, which the kernel sends for
// Ctrl-Alt-Del once CAD is switched off. Package guest and the README
// document them for apps.
var shutdownSignals = map[os.Signal]Event{
	syscall.SIGINT:  {Reason: "ctrl-alt-del", Action: Reboot},
	syscall.SIGTERM: {Reason: "SIGTERM", Action: Reboot},
	syscall.SIGUSR1: {Reason: "SIGUSR1", Action: Halt},
	syscall.SIGUSR2: {Reason: "SIGUSR2", Action: PowerOff},
	syscall.SIGPWR:  {Reason: "power failing", Action: PowerOff},
}

// ignoredSignals would end the agent with Go's default handling (or dump
// its goroutines, SIGQUIT). They are caught and dropped rather than set to
// SIG_IGN, which the app would inherit across exec.
var ignoredSignals = []os.Signal{
	syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGALRM, syscall.SIGVTALRM,
	syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGSTKFLT, syscall.SIGTRAP,
}

// catchSignals starts catching every signal that would otherwise end PID
// 1; it runs before anything else, so signals queue until watchSignals
// acts on them.
func catchSignals() <-chan os.Signal {
	sigs := make(chan os.Signal, 8)
	all := append([]os.Signal(nil), ignoredSignals...)
	for s := range shutdownSignals {
		all = append(all, s)
	}
	signal.Notify(sigs, all...)
	return sigs
}

// watchSignals turns the signals the kernel, tools and the app send PID 1
// into shutdown events. Ctrl-Alt-Del is switched to a SIGINT to PID 1 so
// the app is stopped and disks unmounted before the reboot.
func watchSignals(log *console.Logger, sigs <-chan os.Signal, send func(Event)) {
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); err != nil {
		log.Printf("setup: ctrl-alt-del to SIGINT: %v", err)
	}
	go func() {
		defer recoverTo(log, "signals")
		for s := range sigs {
			if ev, ok := shutdownSignals[s]; ok {
				send(ev)
				continue
			}
			log.Printf("signal: ignored %s", unix.SignalName(s.(syscall.Signal)))
		}
	}()
}
