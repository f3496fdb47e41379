// Package guest is the Go API for apps that run on a tinyboot machine.
//
// The agent (PID 1) starts the app, stops it with SIGTERM when the machine
// is asked to stop (power button, Ctrl-Alt-Del, the app's own request) and
// SIGKILLs it app.stop_timeout later. With this package an app does not
// have to know that:
//
//	func main() {
//		ctx := guest.Context() // first: a stop during start-up counts too
//		srv := start(guest.Persistent())
//		<-ctx.Done()
//		srv.Shutdown()
//	}
//
// Reboot and PowerOff ask the agent to stop the machine; it then stops the
// app like any other stop, so the app's shutdown path is the same. They
// write a datagram ("reboot", "poweroff" or "halt") to the agent's control
// socket, ControlSocket, which any user may write to.
//
// Programs not written in Go get the same with that datagram, or by
// signalling PID 1 as with busybox init: SIGTERM reboots, SIGUSR2 powers
// off, SIGUSR1 halts. A signal to PID 1 needs root (or CAP_KILL).
//
// The package needs only the standard library and golang.org/x/sys, and
// it does nothing until a function is called, so it is safe to import in
// programs that also run outside tinyboot.
package guest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Environment variables the agent sets when the volumes are mounted.
const (
	EnvISO        = "TINYBOOT_ISO"
	EnvPersistent = "TINYBOOT_PERSISTENT"
)

// bakedSpec is the file every tinyboot image has (spec/baked.Path); its
// presence tells a tinyboot machine from a developer's laptop, where
// signalling PID 1 would reach the host's init.
const bakedSpec = "/etc/tinyboot/spec.json"

// ControlSocket is the agent's unix datagram socket for stop requests.
const ControlSocket = "/run/tinyboot/control"

// ErrNotTinyboot is returned by Reboot and PowerOff outside a tinyboot
// machine.
var ErrNotTinyboot = errors.New("not running on a tinyboot machine")

// Signals to PID 1, busybox init's convention, which the agent follows.
const (
	SignalReboot   = unix.SIGTERM
	SignalPowerOff = unix.SIGUSR2
	SignalHalt     = unix.SIGUSR1
)

// Hooks for the tests.
var (
	specPath    = bakedSpec
	controlPath = ControlSocket
	kill        = unix.Kill
)

var (
	ctxOnce sync.Once
	ctx     context.Context
)

// Context returns a context that is cancelled when the machine is asked
// to stop (the agent's SIGTERM to the app) or on SIGINT (Ctrl-C, when the
// program runs by hand). Call it early: from the first call on, SIGTERM
// no longer kills the program but cancels the context, and the program
// has app.stop_timeout to exit.
func Context() context.Context {
	ctxOnce.Do(func() {
		ctx, _ = signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	})
	return ctx
}

// ISO is where the boot ISO's files are mounted (/iso), or "" when the
// agent did not find the ISO.
func ISO() string { return os.Getenv(EnvISO) }

// Persistent is where the persistent volume is mounted (/persistent), or
// "" when the machine has none or it could not be mounted.
func Persistent() string { return os.Getenv(EnvPersistent) }

// Reboot asks the agent to reboot the machine gracefully: the app gets
// SIGTERM (Context is cancelled), the disks are unmounted, then the
// machine restarts. It returns once the request is made.
func Reboot() error { return ask("reboot", SignalReboot) }

// PowerOff asks the agent to power the machine off gracefully, as Reboot
// does for a restart.
func PowerOff() error { return ask("poweroff", SignalPowerOff) }

// ask sends req to the control socket, or, when the agent has none (an
// older one), sig to PID 1.
func ask(req string, sig unix.Signal) error {
	if _, err := os.Stat(specPath); err != nil {
		return fmt.Errorf("guest: %s: %w (%s: %v)", req, ErrNotTinyboot, specPath, err)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: controlPath, Net: "unixgram"})
	if err == nil {
		defer conn.Close()
		if _, err := conn.Write([]byte(req)); err != nil {
			return fmt.Errorf("guest: %s: %w", req, err)
		}
		return nil
	}
	if !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("guest: %s: %w", req, err)
	}
	if err := kill(1, sig); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("guest: %s: signal the agent (PID 1): %w; the app must run as root or hold CAP_KILL", req, err)
		}
		return fmt.Errorf("guest: %s: signal the agent (PID 1): %w", req, err)
	}
	return nil
}
