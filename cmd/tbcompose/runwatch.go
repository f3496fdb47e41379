package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
)

// agentLineRE matches a line of tinyboot's agent on the serial console
// ("tinyboot: [  12.345] app: exited with status 1") and captures its
// message.
var agentLineRE = regexp.MustCompile(`^tinyboot: \[\s*\d+\.\d+\] (.*)$`)

// appEndRE matches the agent's line for the app's end.
var appEndRE = regexp.MustCompile(`^app: (exited with status \d+|killed by signal \d+)`)

// consoleWatch copies the serial console to the terminal and follows the
// agent's lines: whether the agent is up (so the power button would be
// answered), and why the guest reboots when the app ends under on_exit:
// reboot, which would otherwise look like a silent boot loop.
type consoleWatch struct {
	out      io.Writer // the terminal
	stderr   io.Writer // where explanations go
	noReboot bool

	mu      sync.Mutex
	partial []byte
	agentUp bool
	appEnd  string // "app exited with status 1", the last one seen
}

func newConsoleWatch(out, stderr io.Writer, noReboot bool) *consoleWatch {
	return &consoleWatch{out: out, stderr: stderr, noReboot: noReboot}
}

// Write copies p to the terminal and looks at its complete lines.
func (c *consoleWatch) Write(p []byte) (int, error) {
	n, err := c.out.Write(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.line(strings.TrimRight(string(c.partial[:i]), "\r"))
		c.partial = c.partial[i+1:]
	}
	if len(c.partial) > 64<<10 {
		c.partial = c.partial[:0] // no agent line is that long
	}
	return n, err
}

// line follows one console line; the caller holds mu.
func (c *consoleWatch) line(s string) {
	m := agentLineRE.FindStringSubmatch(s)
	if m == nil {
		return
	}
	msg := m[1]
	c.agentUp = true
	switch {
	case appEndRE.MatchString(msg):
		c.appEnd = "app " + strings.TrimPrefix(appEndRE.FindString(msg), "app: ")
	case msg == "shutdown: app ended (on_exit reboot)" && !c.noReboot:
		why := c.appEnd
		if why == "" {
			why = "the app ended"
		}
		fmt.Fprintf(c.stderr, "tbcompose: %s; the guest reboots: --no-reboot stops here\n", why)
	case msg == "shutdown: rebooting", msg == "shutdown: powering off", msg == "shutdown: halting":
		// From here the agent answers nothing until it is up again.
		c.agentUp = false
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
