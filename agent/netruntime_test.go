package agent

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/agent/console"
	"github.com/tinyboot/tinyboot/guest"
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

// TestControlSocket serves the control socket and sends it what package
// guest sends.
func TestControlSocket(t *testing.T) {
	if controlSocket != guest.ControlSocket {
		t.Fatalf("agent listens on %s, package guest writes to %s", controlSocket, guest.ControlSocket)
	}
	path := filepath.Join(t.TempDir(), "run", "control")
	events := make(chan Event, 4)
	var out bytes.Buffer
	log := console.New(&out, func() time.Duration { return 0 })
	if err := listenControl(log, path, func(e Event) { events <- e }); err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, tc := range []struct {
		req  string
		want Action
	}{{"reboot", Reboot}, {"poweroff", PowerOff}, {"halt", Halt}} {
		if _, err := conn.Write([]byte(tc.req)); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-events:
			if ev.Action != tc.want {
				t.Errorf("%s: %+v, want %s", tc.req, ev, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no event", tc.req)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o666 {
		t.Errorf("socket mode %v (%v), want 0666 so a non-root app can write", fi.Mode(), err)
	}
}
