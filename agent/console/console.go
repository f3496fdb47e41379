// Package console writes the agent's one-line-per-step log to the console.
//
// Every line is "tinyboot: [  SSSS.mmm] " followed by the message, where the
// bracket holds the time since boot. The lines are a contract (end-to-end
// tests grep them), so they are fixed printf formats rather than slog
// records with attributes: a structured handler would only add code to an
// image that must stay small, and could not guarantee the exact wording.
package console

import (
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Logger writes prefixed lines; it is safe for concurrent use.
type Logger struct {
	mu     sync.Mutex
	w      io.Writer
	uptime func() time.Duration
	tee    func(msg string)
}

// SetTee makes every later message (without the prefix) also go to f,
// which must not block: remote syslog's buffer.
func (l *Logger) SetTee(f func(msg string)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tee = f
}

// New returns a Logger writing to w, stamping lines with uptime(). A nil
// uptime uses CLOCK_BOOTTIME.
func New(w io.Writer, uptime func() time.Duration) *Logger {
	if uptime == nil {
		uptime = Uptime
	}
	return &Logger{w: w, uptime: uptime}
}

// Printf writes one line; a trailing newline is added.
func (l *Logger) Printf(format string, args ...any) {
	if l == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	line := Prefix(l.uptime()) + msg + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	// A console write error has nowhere to be reported.
	_, _ = io.WriteString(l.w, line)
	if l.tee != nil {
		l.tee(msg)
	}
}

// Prefix renders the line prefix for the time since boot d.
func Prefix(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("tinyboot: [%6d.%03d] ", ms/1000, ms%1000)
}

// Uptime is the time since boot from CLOCK_BOOTTIME, which keeps counting
// across clock steps (SNTP) unlike the wall clock.
func Uptime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// Dur renders a duration for humans with millisecond precision
// ("180ms", "1.234s", "24h0m0s").
func Dur(d time.Duration) string {
	return d.Round(time.Millisecond).String()
}
