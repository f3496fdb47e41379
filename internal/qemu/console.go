package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
)

// ErrConsoleClosed is returned (wrapped) by WaitForLine when the console
// ends without a matching line.
var ErrConsoleClosed = errors.New("console closed")

// Limits that keep a long-running machine's console from growing memory
// without bound. The tee receives everything regardless.
const (
	maxLineLen  = 64 << 10 // a longer run without newline is cut into lines
	maxKeptLine = 20000    // older lines are forgotten
)

// Console collects a serial console's output as lines while copying the
// raw bytes to a tee. Writes come from one producer (the VM's output
// pipe); any number of goroutines may wait for lines.
type Console struct {
	tee io.Writer

	mu      sync.Mutex
	lines   []string
	dropped int // lines forgotten from the front of lines
	cursor  int // absolute index of the first line WaitForLine has not consumed
	partial []byte
	changed chan struct{} // closed and replaced whenever lines grow or the console closes
	closed  bool
	teeErr  bool
}

// NewConsole returns a console that copies everything written to it to
// tee (when not nil).
func NewConsole(tee io.Writer) *Console {
	return &Console{tee: tee, changed: make(chan struct{})}
}

// Write adds serial output. It never fails: a failing tee (a closed
// terminal, a full disk) must not stop the machine's output from being
// read, so the tee is just dropped after its first error.
func (c *Console) Write(p []byte) (int, error) {
	n := len(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tee != nil && !c.teeErr {
		if _, err := c.tee.Write(p); err != nil {
			c.teeErr = true
		}
	}
	grew := false
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			if len(c.partial) >= maxLineLen {
				c.addLine()
				grew = true
			}
			break
		}
		c.partial = append(c.partial, p[:i]...)
		c.addLine()
		grew = true
		p = p[i+1:]
	}
	if grew {
		c.notify()
	}
	return n, nil
}

// addLine moves the partial line to lines; the caller holds mu.
func (c *Console) addLine() {
	c.lines = append(c.lines, strings.TrimRight(string(c.partial), "\r"))
	c.partial = c.partial[:0]
	if len(c.lines) > maxKeptLine {
		n := len(c.lines) - maxKeptLine
		c.lines = append([]string(nil), c.lines[n:]...)
		c.dropped += n
	}
}

func (c *Console) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Close marks the end of output; an unterminated last line becomes a line.
func (c *Console) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if len(c.partial) > 0 {
		c.addLine()
	}
	c.closed = true
	c.notify()
	return nil
}

// Lines returns the complete lines kept so far, without line endings.
func (c *Console) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// Tail returns up to n of the last lines.
func (c *Console) Tail(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > len(c.lines) {
		n = len(c.lines)
	}
	return append([]string(nil), c.lines[len(c.lines)-n:]...)
}

// WaitForLine waits for a complete line matching re and returns it. Each
// call looks only at lines after the previous match, so a sequence of
// calls expects a sequence of lines; a call that fails consumes nothing.
// An unterminated line (a prompt) is
// only seen once the console closes.
func (c *Console) WaitForLine(ctx context.Context, re *regexp.Regexp) (string, error) {
	next := -1 // absolute index of the first line this call has not looked at
	for {
		c.mu.Lock()
		next = max(next, c.cursor)
		for i := max(next-c.dropped, 0); i < len(c.lines); i++ {
			if re.MatchString(c.lines[i]) {
				c.cursor = c.dropped + i + 1
				line := c.lines[i]
				c.mu.Unlock()
				return line, nil
			}
		}
		next = c.dropped + len(c.lines)
		closed, changed := c.closed, c.changed
		c.mu.Unlock()
		if closed {
			return "", fmt.Errorf("wait for %q: %w", re, ErrConsoleClosed)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return "", fmt.Errorf("wait for %q: %w", re, ctx.Err())
		}
	}
}
