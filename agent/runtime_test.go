package agent

import (
	"bytes"
	"strings"
	"syscall"
	"testing"

	"github.com/tinyboot/tinyboot/spec/baked"
)

func TestCopyLines(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		max   int
		lines []string
	}{
		{"lines", "a\nb\r\n", 64, []string{"a", "b"}},
		{"partial last line", "a\nno newline", 64, []string{"a", "no newline"}},
		{"long line split", "0123456789abcdefghij\n", 16, []string{"0123456789abcdef", "ghij"}},
		{"empty", "", 64, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var console bytes.Buffer
			var got []string
			copyLines(strings.NewReader(tc.in), &console, tc.max, func(l string) { got = append(got, l) })
			if console.String() != tc.in {
				t.Errorf("console got %q, want the input verbatim %q", console.String(), tc.in)
			}
			if strings.Join(got, "|") != strings.Join(tc.lines, "|") {
				t.Errorf("lines %q, want %q", got, tc.lines)
			}
		})
	}
}

// TestShutdownSignals pins busybox init's convention, which package guest
// and programs in other languages rely on.
func TestShutdownSignals(t *testing.T) {
	want := map[syscall.Signal]Action{
		syscall.SIGTERM: Reboot,
		syscall.SIGUSR2: PowerOff,
		syscall.SIGUSR1: Halt,
		syscall.SIGPWR:  PowerOff,
		syscall.SIGINT:  Reboot,
	}
	for sig, act := range want {
		if ev, ok := shutdownSignals[sig]; !ok || ev.Action != act {
			t.Errorf("%v: %+v, want %s", sig, ev, act)
		}
	}
	for _, s := range ignoredSignals {
		if _, ok := shutdownSignals[s]; ok {
			t.Errorf("%v is both ignored and a shutdown signal", s)
		}
	}
}

func TestUsesDHCP(t *testing.T) {
	tests := []struct {
		n    baked.Network
		want bool
	}{
		{baked.Network{DHCP: true}, true},
		{baked.Network{}, false},
		{baked.Network{Interfaces: []baked.Interface{{Name: "eth0", Addresses: []string{"10.0.2.15/24"}}}}, false},
		{baked.Network{Interfaces: []baked.Interface{{Name: "eth0"}, {Name: "eth1", DHCP: true}}}, true},
	}
	for _, tc := range tests {
		if got := usesDHCP(tc.n); got != tc.want {
			t.Errorf("usesDHCP(%+v) = %v, want %v", tc.n, got, tc.want)
		}
	}
}
