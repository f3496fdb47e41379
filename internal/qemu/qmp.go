package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// The QEMU Machine Protocol is a handful of JSON objects over a stream:
// a greeting, then commands answered in order, with asynchronous events
// in between. It is written by hand here because the Go QMP libraries
// (digitalocean/go-qemu) pull in libvirt bindings for far more than the
// four messages this package needs.

// ErrQMPClosed is returned by Execute when the connection ends before the
// answer arrives, as it does when QEMU exits.
var ErrQMPClosed = errors.New("qmp: connection closed")

// QMPError is an error answer from QEMU.
type QMPError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *QMPError) Error() string { return "qmp: " + e.Class + ": " + e.Desc }

// Event is an asynchronous QMP event such as SHUTDOWN.
type Event struct {
	Name string
	Data json.RawMessage
	Time time.Time
}

// qmpMessage is any message QEMU sends; which fields are set says which
// kind it is.
type qmpMessage struct {
	Greeting  json.RawMessage `json:"QMP"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Timestamp *struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	} `json:"timestamp"`
	Return json.RawMessage `json:"return"`
	Error  *QMPError       `json:"error"`
	ID     *string         `json:"id"`
}

type qmpCommand struct {
	Execute   string `json:"execute"`
	Arguments any    `json:"arguments,omitempty"`
	ID        string `json:"id,omitempty"`
}

type qmpResult struct {
	ret json.RawMessage
	err error
}

// QMP is a connection to a QEMU monitor in QMP mode.
type QMP struct {
	conn    net.Conn
	dec     *json.Decoder
	onEvent func(Event)

	wmu sync.Mutex // serialises writes

	mu      sync.Mutex
	nextID  uint64
	pending map[string]chan qmpResult
	closed  bool

	done chan struct{}
}

// NewQMP reads the greeting on conn, leaves negotiation mode and starts
// reading events, which it passes to onEvent (when not nil) from its
// reading goroutine; onEvent must not block. ctx bounds the handshake.
func NewQMP(ctx context.Context, conn net.Conn, onEvent func(Event)) (*QMP, error) {
	q := &QMP{
		conn:    conn,
		dec:     json.NewDecoder(conn),
		onEvent: onEvent,
		pending: map[string]chan qmpResult{},
		done:    make(chan struct{}),
	}
	// Unblock the handshake's reads and writes when ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	err := q.handshake()
	if !stop() || err != nil {
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("qmp handshake: %w", err)
	}
	conn.SetDeadline(time.Time{})
	go q.read()
	return q, nil
}

func (q *QMP) handshake() error {
	var greeting qmpMessage
	if err := q.dec.Decode(&greeting); err != nil {
		return fmt.Errorf("read greeting: %w", err)
	}
	if greeting.Greeting == nil {
		return errors.New("no QMP greeting")
	}
	if err := q.send(qmpCommand{Execute: "qmp_capabilities"}); err != nil {
		return err
	}
	// QEMU sends no events before capabilities are negotiated, so the
	// next message is the answer.
	var resp qmpMessage
	if err := q.dec.Decode(&resp); err != nil {
		return fmt.Errorf("read qmp_capabilities answer: %w", err)
	}
	if resp.Error != nil {
		return resp.Error
	}
	return nil
}

func (q *QMP) send(c qmpCommand) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode %s: %w", c.Execute, err)
	}
	q.wmu.Lock()
	defer q.wmu.Unlock()
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("send %s: %w", c.Execute, err)
	}
	return nil
}

func (q *QMP) read() {
	for {
		var m qmpMessage
		if err := q.dec.Decode(&m); err != nil {
			break
		}
		switch {
		case m.Event != "":
			if q.onEvent != nil {
				ev := Event{Name: m.Event, Data: m.Data}
				if m.Timestamp != nil {
					ev.Time = time.Unix(m.Timestamp.Seconds, m.Timestamp.Microseconds*1000)
				}
				q.onEvent(ev)
			}
		case m.ID != nil:
			q.mu.Lock()
			ch := q.pending[*m.ID]
			delete(q.pending, *m.ID)
			q.mu.Unlock()
			if ch != nil {
				res := qmpResult{ret: m.Return}
				if m.Error != nil {
					res.err = m.Error
				}
				ch <- res
			}
		}
		// Answers without an id only follow requests that were not valid
		// JSON, which this client never sends.
	}
	q.mu.Lock()
	q.closed = true
	for id, ch := range q.pending {
		ch <- qmpResult{err: ErrQMPClosed}
		delete(q.pending, id)
	}
	close(q.done)
	q.mu.Unlock()
}

// Execute runs command with args (nil for none) and returns its "return"
// value.
func (q *QMP) Execute(ctx context.Context, command string, args any) (json.RawMessage, error) {
	ch := make(chan qmpResult, 1)
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", command, ErrQMPClosed)
	}
	q.nextID++
	id := "tb-" + strconv.FormatUint(q.nextID, 10)
	q.pending[id] = ch
	q.mu.Unlock()

	if err := q.send(qmpCommand{Execute: command, Arguments: args, ID: id}); err != nil {
		q.mu.Lock()
		delete(q.pending, id)
		q.mu.Unlock()
		if isClosed(q.done) {
			return nil, fmt.Errorf("%s: %w", command, ErrQMPClosed)
		}
		return nil, err
	}
	select {
	case res := <-ch:
		if res.err != nil {
			return nil, fmt.Errorf("%s: %w", command, res.err)
		}
		return res.ret, nil
	case <-ctx.Done():
		q.mu.Lock()
		delete(q.pending, id)
		q.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", command, ctx.Err())
	}
}

// Done is closed when the connection has ended.
func (q *QMP) Done() <-chan struct{} { return q.done }

// Close closes the connection.
func (q *QMP) Close() error { return q.conn.Close() }

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
