package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tinyboot/tinyboot/agent/console"
	"github.com/tinyboot/tinyboot/agent/syslog"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// Bounds of the lines kept for the syslog server while it cannot be
// reached: the whole early boot fits many times over.
const (
	syslogMaxLines = 4096
	syslogMaxBytes = 1 << 20
	// syslogFlushWait bounds sending the last lines at shutdown.
	syslogFlushWait = 2 * time.Second
	// appLineMax cuts an endless line of app output into messages.
	appLineMax = syslog.MaxTCP
)

// remoteLog is the syslog side of the console: agent lines from boot on,
// and, once the spec asks for a server, the app's output.
type remoteLog struct {
	buf *syslog.Buffer
	fwd *syslog.Forwarder
	// pipes are the write ends the app's output goes to, kept here so
	// that no finalizer closes them.
	pipes []*os.File
}

// startEarlyLog collects the agent's lines from the first one, before the
// spec says whether there is a server to send them to.
func startEarlyLog(log *console.Logger) *remoteLog {
	r := &remoteLog{buf: syslog.NewBuffer(syslogMaxLines, syslogMaxBytes)}
	log.SetTee(func(msg string) {
		r.buf.Add(syslog.Message{Time: time.Now(), Facility: syslog.Daemon, Severity: syslog.Info, AppName: "tinyboot", ProcID: "1", Text: msg})
	})
	return r
}

// start sends to cfg's server, or stops collecting when there is none.
// With a server, the app's stdout and stderr go through pipes that the
// agent copies to the console and the server.
func (r *remoteLog) start(ctx context.Context, cfg *baked.Config, log *console.Logger, sys *Linux) {
	if cfg.Log.SyslogNetwork == "" {
		log.SetTee(nil)
		r.buf.Close()
		return
	}
	r.fwd = &syslog.Forwarder{Network: cfg.Log.SyslogNetwork, Addr: cfg.Log.SyslogAddr, Hostname: cfg.Hostname, Buf: r.buf}
	go func() {
		defer recoverTo(log, "syslog")
		r.fwd.Run(ctx)
	}()
	log.Printf("log: sending to syslog %s://%s", cfg.Log.SyslogNetwork, cfg.Log.SyslogAddr)
	stdout, err := r.appPipe(log, cfg.Name, syslog.Info, os.Stdout)
	if err != nil {
		log.Printf("log: app output to syslog: %v", err)
		return
	}
	stderr, err := r.appPipe(log, cfg.Name, syslog.Err, os.Stderr)
	if err != nil {
		stdout.Close()
		log.Printf("log: app output to syslog: %v", err)
		return
	}
	r.pipes = []*os.File{stdout, stderr}
	sys.appStdio = []uintptr{0, stdout.Fd(), stderr.Fd()}
}

// appPipe returns the write end of a pipe whose lines are copied to
// console and queued for the server with severity sev. The agent keeps
// the write end open for good: every (re)start of the app shares it.
func (r *remoteLog) appPipe(log *console.Logger, app string, sev syslog.Severity, console io.Writer) (*os.File, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	go func() {
		defer recoverTo(log, "app output")
		copyLines(pr, console, appLineMax, func(line string) {
			r.buf.Add(syslog.Message{Time: time.Now(), Facility: syslog.User, Severity: sev, AppName: app, Text: line})
		})
	}()
	return pw, nil
}

// copyLines copies r to w as it comes and hands every line (at most max
// bytes; longer ones are split) to line, until r ends.
func copyLines(r io.Reader, w io.Writer, max int, line func(string)) {
	br := bufio.NewReaderSize(r, max)
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			// A console that fails has nowhere to report it.
			_, _ = w.Write(b)
			line(string(trimEOL(b)))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// flush sends what is left, briefly: the last lines before the machine
// stops.
func (r *remoteLog) flush() {
	if r == nil || r.fwd == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), syslogFlushWait)
	defer cancel()
	_ = r.fwd.Flush(ctx)
}
