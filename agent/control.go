package agent

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/tinyboot/tinyboot/agent/console"
)

// controlSocket is where apps ask the agent to stop the machine (package
// guest's ControlSocket): a datagram of "reboot", "poweroff" or "halt".
// Unlike a signal to PID 1 it works for an app that is not root.
const controlSocket = "/run/tinyboot/control"

// controlRequests map a request to the shutdown it asks for.
var controlRequests = map[string]Event{
	"reboot":   {Reason: "app asked to reboot", Action: Reboot},
	"poweroff": {Reason: "app asked to power off", Action: PowerOff},
	"halt":     {Reason: "app asked to halt", Action: Halt},
}

// listenControl serves the control socket at path until the machine
// stops. Every process may write to it: all of them are the app's.
func listenControl(log *console.Logger, path string, send func(Event)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	if err := os.Chmod(path, 0o666); err != nil {
		conn.Close()
		return err
	}
	go func() {
		defer recoverTo(log, "control")
		defer conn.Close()
		buf := make([]byte, 64)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				log.Printf("control: %v", err)
				return
			}
			req := strings.TrimSpace(string(buf[:n]))
			if ev, ok := controlRequests[req]; ok {
				send(ev)
			} else {
				log.Printf("control: unknown request %q", req)
			}
		}
	}()
	return nil
}
