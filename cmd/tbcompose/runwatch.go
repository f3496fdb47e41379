package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"

	"github.com/tinyboot/tinyboot/internal/qemu"
)

// agentLineRE matches a line of tinyboot's agent on the serial console
// ("tinyboot: [  12.345] app: exited with status 1") and captures its
// message.
var agentLineRE = regexp.MustCompile(`^tinyboot: \[\s*\d+\.\d+\] (.*)$`)

// appEndRE matches the agent's line for the app's end.
var appEndRE = regexp.MustCompile(`^app: (exited with status \d+|killed by signal \d+)`)

// consoleWatch follows the agent's lines on the serial console: whether
// the agent is up (so the power button would be answered), and why the
// guest reboots when the app ends under on_exit: reboot, which would
// otherwise look like a silent boot loop.
type consoleWatch struct {
	stderr   io.Writer // where explanations go
	noReboot bool

	mu      sync.Mutex
	agentUp bool
	down    bool   // the agent said "shutdown:" and has not started since
	appEnd  string // "app exited with status 1", the last one seen
}

func newConsoleWatch(stderr io.Writer, noReboot bool) *consoleWatch {
	return &consoleWatch{stderr: stderr, noReboot: noReboot}
}

// follow reads the agent's lines from con until it closes. It is the
// console's only reader (WaitForLine's matches consume lines).
func (c *consoleWatch) follow(con *qemu.Console) {
	for {
		s, err := con.WaitForLine(context.Background(), agentLineRE)
		if err != nil {
			return
		}
		c.mu.Lock()
		c.line(s)
		c.mu.Unlock()
	}
}

// line follows one console line; the caller holds mu.
func (c *consoleWatch) line(s string) {
	m := agentLineRE.FindStringSubmatch(s)
	if m == nil {
		return
	}
	msg := m[1]
	// Once the agent says "shutdown:", it is on its way down and answers
	// nothing more until it starts again ("setup:" is its first word at
	// boot), whatever else it logs meanwhile. That is set before anything
	// is printed about the line, so whoever reads the explanation sees it.
	switch {
	case strings.HasPrefix(msg, "shutdown: "):
		c.agentUp, c.down = false, true
	case strings.HasPrefix(msg, "setup: "):
		c.agentUp, c.down = true, false
	default:
		c.agentUp = !c.down
	}
	switch {
	case appEndRE.MatchString(msg):
		c.appEnd = "app " + strings.TrimPrefix(appEndRE.FindString(msg), "app: ")
	case msg == "shutdown: app ended (on_exit reboot)" && !c.noReboot:
		why := c.appEnd
		if why == "" {
			why = "the app ended"
		}
		fmt.Fprintf(c.stderr, "tbcompose: %s; the guest reboots: --no-reboot stops here\n", why)
	}
}

// AgentUp reports whether the agent has started and is not shutting
// down: only then does the power button do anything.
func (c *consoleWatch) AgentUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agentUp
}

// lastAppExit is the agent's last word on the app's end ("app exited
// with status 1"), or "".
func (c *consoleWatch) lastAppExit() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.appEnd
}

// heldWriter holds what is written to it until release, then passes it
// and everything after it through to w.
type heldWriter struct {
	w io.Writer

	mu       sync.Mutex
	buf      bytes.Buffer
	released bool
}

func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return h.w.Write(p)
	}
	return h.buf.Write(p)
}

// release writes what was held and lets later writes through.
func (h *heldWriter) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.released {
		h.w.Write(h.buf.Bytes())
		h.buf.Reset()
		h.released = true
	}
}
