package syslog

import (
	"context"
	"fmt"
	"net"
	"time"
)

// Retry bounds for a server that cannot be reached (no route yet, down).
const (
	firstRetry = 250 * time.Millisecond
	maxRetry   = 10 * time.Second
	dialWait   = 5 * time.Second
	writeWait  = 5 * time.Second
	batch      = 64
)

// Forwarder sends a Buffer's messages to one server.
type Forwarder struct {
	Network  string // "udp" or "tcp"
	Addr     string // host:port
	Hostname string
	Buf      *Buffer
	// Dial defaults to net.Dialer.DialContext.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	reported uint64 // drops already told to the server
}

// Run sends until ctx ends, reconnecting with backoff when the server
// cannot be reached; nothing is taken off the buffer before it was
// written.
func (f *Forwarder) Run(ctx context.Context) {
	dial := f.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	max := MaxUDP
	if f.Network == "tcp" {
		max = MaxTCP
	}
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	retry := firstRetry
	for {
		msgs, first, dropped := f.Buf.peek(batch)
		if len(msgs) == 0 && dropped == f.reported {
			select {
			case <-ctx.Done():
				return
			case <-f.Buf.notify:
			}
			continue
		}
		err := func() error {
			if conn == nil {
				c, err := func() (net.Conn, error) {
					dctx, cancel := context.WithTimeout(ctx, dialWait)
					defer cancel()
					return dial(dctx, f.Network, f.Addr)
				}()
				if err != nil {
					return err
				}
				conn = c
			}
			if dropped > f.reported {
				note := Message{Time: time.Now(), Facility: Daemon, Severity: Warning, AppName: "tinyboot",
					Text: fmt.Sprintf("syslog: dropped %d lines while the server could not be reached", dropped-f.reported)}
				if err := f.write(conn, Format(note, f.Hostname, max)); err != nil {
					return err
				}
				f.reported = dropped
			}
			for i, m := range msgs {
				if err := f.write(conn, Format(m, f.Hostname, max)); err != nil {
					f.Buf.commit(first + uint64(i))
					return err
				}
			}
			f.Buf.commit(first + uint64(len(msgs)))
			return nil
		}()
		if err == nil {
			retry = firstRetry
			continue
		}
		if conn != nil {
			conn.Close()
			conn = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(retry*2, maxRetry)
	}
}

func (f *Forwarder) write(conn net.Conn, msg []byte) error {
	_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
	_, err := conn.Write(Frame(f.Network, msg))
	return err
}

// Flush waits until the buffer is empty or ctx ends: at shutdown, so the
// last lines reach the server before the machine stops.
func (f *Forwarder) Flush(ctx context.Context) error {
	for f.Buf.Len() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("syslog: %d lines not sent", f.Buf.Len())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
