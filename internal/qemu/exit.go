package qemu

import "fmt"

// ExitReason says how a machine ended.
type ExitReason string

// Exit reasons.
const (
	ExitPoweroff ExitReason = "poweroff" // the guest powered off (ACPI)
	ExitReboot   ExitReason = "reboot"   // the guest reset; QEMU exits only with NoReboot
	ExitPanic    ExitReason = "panic"    // the guest kernel panicked (pvpanic)
	ExitQuit     ExitReason = "quit"     // the host asked QEMU to quit (QMP quit, UI)
	ExitSignal   ExitReason = "signal"   // QEMU got a termination signal
	ExitKilled   ExitReason = "killed"   // QEMU was killed before the machine shut down
	ExitFailed   ExitReason = "failed"   // QEMU failed: bad arguments, host error, crash
)

// ReasonForShutdown maps the "reason" of QEMU's SHUTDOWN event (its
// ShutdownCause) to an ExitReason.
func ReasonForShutdown(cause string) ExitReason {
	switch cause {
	case "guest-shutdown":
		return ExitPoweroff
	case "guest-reset", "host-qmp-system-reset", "subsystem-reset":
		return ExitReboot
	case "guest-panic":
		return ExitPanic
	case "host-qmp-quit", "host-ui":
		return ExitQuit
	case "host-signal":
		return ExitSignal
	}
	// "host-error", "none" and causes newer QEMUs may add.
	return ExitFailed
}

// Exit describes how a machine ended.
type Exit struct {
	Reason ExitReason
	Cause  string // the SHUTDOWN event's reason, verbatim; empty without one
	Code   int    // QEMU's exit status; -1 when it was killed by a signal
	Err    error  // what went wrong, with QEMU's last diagnostics, when Reason is ExitFailed
}

func (e Exit) String() string {
	s := fmt.Sprintf("%s (qemu exit status %d", e.Reason, e.Code)
	if e.Cause != "" {
		s += ", " + e.Cause
	}
	s += ")"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}
