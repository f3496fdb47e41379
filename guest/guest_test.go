package guest

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeAgent points the package at a spec file in a temporary directory and
// records the signals it would send.
func fakeAgent(t *testing.T, present bool, err error) *[]unix.Signal {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spec.json")
	if present {
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var sent []unix.Signal
	oldPath, oldKill, oldControl := specPath, kill, controlPath
	specPath = p
	controlPath = filepath.Join(t.TempDir(), "no-control")
	kill = func(pid int, sig unix.Signal) error {
		if pid != 1 {
			t.Errorf("signal to pid %d, want 1", pid)
		}
		sent = append(sent, sig)
		return err
	}
	t.Cleanup(func() { specPath, kill, controlPath = oldPath, oldKill, oldControl })
	return &sent
}

func TestRequests(t *testing.T) {
	tests := []struct {
		name    string
		call    func() error
		present bool
		killErr error
		want    []unix.Signal
		wantErr error
	}{
		{"reboot", Reboot, true, nil, []unix.Signal{unix.SIGTERM}, nil},
		{"power off", PowerOff, true, nil, []unix.Signal{unix.SIGUSR2}, nil},
		{"outside tinyboot", Reboot, false, nil, nil, ErrNotTinyboot},
		{"not root", PowerOff, true, unix.EPERM, []unix.Signal{unix.SIGUSR2}, unix.EPERM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sent := fakeAgent(t, tc.present, tc.killErr)
			err := tc.call()
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if len(*sent) != len(tc.want) || (len(tc.want) > 0 && (*sent)[0] != tc.want[0]) {
				t.Errorf("sent %v, want %v", *sent, tc.want)
			}
		})
	}
}

// TestControlSocket checks the requests an agent with a control socket
// gets: one datagram each, and no signal.
func TestControlSocket(t *testing.T) {
	sent := fakeAgent(t, true, nil)
	controlPath = filepath.Join(t.TempDir(), "control")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: controlPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, tc := range []struct {
		call func() error
		want string
	}{{Reboot, "reboot"}, {PowerOff, "poweroff"}} {
		if err := tc.call(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := conn.ReadFromUnix(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:n]); got != tc.want {
			t.Errorf("request %q, want %q", got, tc.want)
		}
	}
	if len(*sent) != 0 {
		t.Errorf("signals sent besides the requests: %v", *sent)
	}
}

func TestMounts(t *testing.T) {
	t.Setenv(EnvISO, "/iso")
	t.Setenv(EnvPersistent, "")
	if ISO() != "/iso" || Persistent() != "" {
		t.Errorf("ISO() = %q, Persistent() = %q", ISO(), Persistent())
	}
}

// TestContext sends the test process the agent's SIGTERM.
func TestContext(t *testing.T) {
	ctx := Context()
	if ctx.Err() != nil {
		t.Fatal("cancelled before any signal")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
	if Context() != ctx {
		t.Error("Context returned a new context")
	}
}
