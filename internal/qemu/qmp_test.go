package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// fakeQMP is a QMP server on a unix socket that speaks QEMU's side of the
// protocol from a script: for each command it receives it writes what
// reply returns.
type fakeQMP struct {
	t     *testing.T
	ln    net.Listener
	reply func(cmd map[string]any) []string // raw JSON lines to send
	got   chan string                       // commands received, by name
}

func newFakeQMP(t *testing.T, reply func(cmd map[string]any) []string) *fakeQMP {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "qmp.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &fakeQMP{t: t, ln: ln, reply: reply, got: make(chan string, 16)}
	go f.serve()
	return f
}

func (f *fakeQMP) serve() {
	c, err := f.ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	fmt.Fprint(c, `{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}`+"\r\n")
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		var cmd map[string]any
		if err := json.Unmarshal(sc.Bytes(), &cmd); err != nil {
			f.t.Errorf("client sent invalid JSON %q: %v", sc.Text(), err)
			return
		}
		name, _ := cmd["execute"].(string)
		f.got <- name
		if name == "qmp_capabilities" {
			fmt.Fprint(c, `{"return": {}}`+"\r\n")
			continue
		}
		lines := f.reply(cmd)
		for _, l := range lines {
			if l == "CLOSE" {
				return
			}
			fmt.Fprint(c, l+"\r\n")
		}
	}
}

func (f *fakeQMP) dial(t *testing.T, onEvent func(Event)) *QMP {
	t.Helper()
	c, err := net.Dial("unix", f.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := NewQMP(ctx, c, onEvent)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func idOf(cmd map[string]any) string {
	b, _ := json.Marshal(cmd["id"])
	return string(b)
}

func TestQMPExecuteAndEvents(t *testing.T) {
	f := newFakeQMP(t, func(cmd map[string]any) []string {
		id := idOf(cmd)
		switch cmd["execute"] {
		case "query-status":
			// An event arrives before the answer, as QEMU may interleave them.
			return []string{
				`{"timestamp": {"seconds": 1700000000, "microseconds": 5}, "event": "RESUME"}`,
				`{"return": {"status": "running", "running": true}, "id": ` + id + `}`,
			}
		case "system_powerdown":
			return []string{
				`{"return": {}, "id": ` + id + `}`,
				`{"timestamp": {"seconds": 1700000001, "microseconds": 0}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}`,
			}
		case "bogus":
			return []string{`{"error": {"class": "CommandNotFound", "desc": "The command bogus has not been found"}, "id": ` + id + `}`}
		}
		return nil
	})
	events := make(chan Event, 8)
	q := f.dial(t, func(ev Event) { events <- ev })
	ctx := context.Background()

	ret, err := q.Execute(ctx, "query-status", nil)
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Status string }
	if err := json.Unmarshal(ret, &st); err != nil || st.Status != "running" {
		t.Errorf("query-status = %s, %v", ret, err)
	}
	if ev := <-events; ev.Name != "RESUME" || !ev.Time.Equal(time.Unix(1700000000, 5000)) {
		t.Errorf("event = %+v", ev)
	}

	_, err = q.Execute(ctx, "bogus", map[string]any{"x": 1})
	var qe *QMPError
	if !errors.As(err, &qe) || qe.Class != "CommandNotFound" {
		t.Errorf("bogus: err = %v, want a CommandNotFound QMPError", err)
	}

	if _, err := q.Execute(ctx, "system_powerdown", nil); err != nil {
		t.Fatal(err)
	}
	ev := <-events
	var d struct{ Reason string }
	if err := json.Unmarshal(ev.Data, &d); ev.Name != "SHUTDOWN" || err != nil || d.Reason != "guest-shutdown" {
		t.Errorf("event = %+v (%v)", ev, err)
	}
}

func TestQMPClosedWhileWaiting(t *testing.T) {
	f := newFakeQMP(t, func(cmd map[string]any) []string {
		// QEMU may close the connection on quit before answering.
		return []string{`{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}`, "CLOSE"}
	})
	q := f.dial(t, nil)
	_, err := q.Execute(context.Background(), "quit", nil)
	if !errors.Is(err, ErrQMPClosed) {
		t.Fatalf("err = %v, want ErrQMPClosed", err)
	}
	<-q.Done()
	if _, err := q.Execute(context.Background(), "query-status", nil); !errors.Is(err, ErrQMPClosed) {
		t.Errorf("after close: err = %v, want ErrQMPClosed", err)
	}
}

func TestQMPExecuteDeadline(t *testing.T) {
	f := newFakeQMP(t, func(cmd map[string]any) []string { return nil }) // never answers
	q := f.dial(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := q.Execute(ctx, "query-status", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

func TestQMPHandshakeDeadline(t *testing.T) {
	// A peer that accepts but never greets.
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "silent.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(2 * time.Second)
		}
	}()
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := NewQMP(ctx, c, nil); err == nil {
		t.Fatal("handshake with a silent peer succeeded")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("handshake gave up after %v, want about 50ms", d)
	}
}

func TestQMPNotAGreeting(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		fmt.Fprint(b, `{"return": {}}`+"\n")
		b.Close()
	}()
	if _, err := NewQMP(context.Background(), a, nil); err == nil {
		t.Fatal("accepted a peer without a QMP greeting")
	}
}
