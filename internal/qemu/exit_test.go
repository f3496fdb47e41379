package qemu

import "testing"

func TestReasonForShutdown(t *testing.T) {
	tests := map[string]ExitReason{
		"guest-shutdown":        ExitPoweroff,
		"guest-reset":           ExitReboot,
		"host-qmp-system-reset": ExitReboot,
		"subsystem-reset":       ExitReboot,
		"guest-panic":           ExitPanic,
		"host-qmp-quit":         ExitQuit,
		"host-ui":               ExitQuit,
		"host-signal":           ExitSignal,
		"host-error":            ExitFailed,
		"none":                  ExitFailed,
		"something-new":         ExitFailed,
	}
	for cause, want := range tests {
		if got := ReasonForShutdown(cause); got != want {
			t.Errorf("ReasonForShutdown(%q) = %s, want %s", cause, got, want)
		}
	}
}
