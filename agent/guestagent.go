package agent

import (
	"context"
	"time"

	"github.com/tinyboot/tinyboot/agent/console"
	"github.com/tinyboot/tinyboot/agent/qga"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// guestAgentPortWait bounds the search for the guest agent's port after
// the modules are loaded; a machine without the channel has none.
const guestAgentPortWait = 5 * time.Second

// newGuestAgent is the guest agent's protocol server on this machine:
// it reports /iso and /persistent, freezes /persistent, and turns
// guest-shutdown into the same shutdown event as the power button.
// shutdown is read only when a guest-shutdown arrives, so it may be set
// after the server is made.
func newGuestAgent(log *console.Logger, shutdown *func(Event)) *qga.Server {
	host := &qga.Linux{
		Mounts:    []string{baked.ISOMount, baked.PersistentMount},
		Freezable: []string{baked.PersistentMount},
		OnShutdown: func(mode string) {
			(*shutdown)(Event{Reason: "guest-shutdown (" + mode + ")", Action: guestShutdownAction(mode)})
		},
	}
	return qga.New(host, log.Printf, qga.DefaultThawTimeout)
}

// guestShutdownAction maps guest-shutdown's mode to an Action.
func guestShutdownAction(mode string) Action {
	switch mode {
	case "reboot":
		return Reboot
	case "halt":
		return Halt
	}
	return PowerOff
}

// serveGuestAgent answers on the guest agent port, if the machine has
// one, until ctx ends.
func serveGuestAgent(ctx context.Context, log *console.Logger, ga *qga.Server) {
	if err := qga.Listen(ctx, ga, guestAgentPortWait); err != nil && ctx.Err() == nil {
		// Ended by the shutdown is no error to report.
		log.Printf("qga: %v", err)
	}
}
