package agent

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/tinyboot/tinyboot/agent/blkid"
	"github.com/tinyboot/tinyboot/agent/clock"
)

// System is the part of the operating system the agent drives. The real
// one is Linux (NewLinux); tests use fakes that record calls.
type System interface {
	Mount(source, target, fstype string, flags uintptr, data string) error
	Unmount(target string, flags int) error
	Sync()
	// Reboot performs act; on success it does not return.
	Reboot(act Action) error
	SetHostname(name string) error
	// LoadModule loads the .ko at path (absolute) with params.
	LoadModule(path, params string) error
	// BlockDevices lists /sys/class/block now.
	BlockDevices() ([]BlockDevice, error)
	// Probe reads the superblock of /dev/<name>.
	Probe(name string) (blkid.Info, error)
	// StartApp starts path as a child with argv, env and priv, stdio on
	// the console. exited delivers its status once it has been reaped.
	StartApp(path string, argv, env []string, priv Privileges) (pid int, exited <-chan ExitStatus, err error)
	// Kill sends sig to pid (-1: every process but the agent).
	Kill(pid int, sig syscall.Signal) error
	// Leftovers counts the live user processes other than the agent:
	// what could still hold files open. Kernel threads and zombies (their
	// files are closed) do not count.
	Leftovers() (int, error)
	// StepClock moves the wall clock by d.
	StepClock(d time.Duration) error
	// WriteFile writes a file of the root filesystem or /proc/sys;
	// MkdirAll and Chown make and give away directories (see runtime.go).
	WriteFile(path string, data []byte, perm os.FileMode) error
	MkdirAll(path string, perm os.FileMode) error
	Chown(path string, uid, gid int) error
}

// BlockDevice is one entry of /sys/class/block.
type BlockDevice struct {
	Name string
	// Partition is true for partitions (vda1), false for whole disks
	// (vda, sr0).
	Partition bool
	// Parent is the whole disk of a partition ("vda" for "vda1").
	Parent string
	// Registering is true while the kernel is still adding a whole disk:
	// it is in sysfs but cannot be opened yet, and opening it then makes
	// the kernel ask the module helper for a driver (block-major-N-M).
	Registering bool
}

// Clock is the time source; tests drive it by hand.
type Clock = clock.Clock

type realClock = clock.Real

// ExitStatus is how a process ended.
type ExitStatus struct {
	// Code is the exit status when Signal is 0.
	Code int
	// Signal is the signal that killed the process, or 0.
	Signal syscall.Signal
}

// Failed reports whether the process failed (non-zero exit or a signal).
func (s ExitStatus) Failed() bool { return s.Code != 0 || s.Signal != 0 }

// String is the console form: "exited with status 2", "killed by signal 9".
func (s ExitStatus) String() string {
	if s.Signal != 0 {
		return fmt.Sprintf("killed by signal %d", int(s.Signal))
	}
	return fmt.Sprintf("exited with status %d", s.Code)
}

// Action is what the machine does at the end.
type Action int

// Actions, matching baked App.OnExit values.
const (
	Reboot Action = iota
	PowerOff
	Halt
)

// ParseAction maps "reboot", "poweroff" and "halt"; anything else is
// Reboot, the safe default for an appliance.
func ParseAction(s string) Action {
	switch s {
	case "poweroff":
		return PowerOff
	case "halt":
		return Halt
	}
	return Reboot
}

// String is the action's spec name.
func (a Action) String() string {
	switch a {
	case PowerOff:
		return "poweroff"
	case Halt:
		return "halt"
	}
	return "reboot"
}

// verb is the console form: "shutdown: rebooting".
func (a Action) verb() string {
	switch a {
	case PowerOff:
		return "powering off"
	case Halt:
		return "halting"
	}
	return "rebooting"
}

// Event asks the agent to shut down.
type Event struct {
	// Reason is logged as "shutdown: <Reason>" ("power button").
	Reason string
	Action Action
}
