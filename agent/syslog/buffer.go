package syslog

import (
	"sync"
)

// Buffer holds messages until they are sent: at most maxMsgs of them and
// maxBytes of text; when full the oldest go, and are counted.
type Buffer struct {
	mu       sync.Mutex
	msgs     []Message
	first    uint64 // sequence number of msgs[0]
	size     int
	dropped  uint64
	maxMsgs  int
	maxBytes int
	closed   bool
	notify   chan struct{}
}

// NewBuffer returns an empty buffer with the given bounds.
func NewBuffer(maxMsgs, maxBytes int) *Buffer {
	return &Buffer{maxMsgs: maxMsgs, maxBytes: maxBytes, notify: make(chan struct{}, 1)}
}

// Add queues m, dropping the oldest messages if the buffer is full. It
// never blocks, so it is safe to call from the console logger.
func (b *Buffer) Add(m Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.msgs = append(b.msgs, m)
	b.size += len(m.Text)
	for len(b.msgs) > b.maxMsgs || (b.size > b.maxBytes && len(b.msgs) > 1) {
		b.size -= len(b.msgs[0].Text)
		b.msgs[0] = Message{}
		b.msgs = b.msgs[1:]
		b.first++
		b.dropped++
	}
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// Close stops collecting and empties the buffer: for a machine without a
// syslog server, whose early lines were collected just in case.
func (b *Buffer) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.msgs = nil
	b.size = 0
}

// peek returns up to n queued messages, the sequence number of the first
// and how many have been dropped so far.
func (b *Buffer) peek(n int) (msgs []Message, first, dropped uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n = min(n, len(b.msgs))
	return append([]Message(nil), b.msgs[:n]...), b.first, b.dropped
}

// commit removes the messages before sequence number next (those sent),
// as far as they are still there.
func (b *Buffer) commit(next uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.first < next && len(b.msgs) > 0 {
		b.size -= len(b.msgs[0].Text)
		b.msgs[0] = Message{}
		b.msgs = b.msgs[1:]
		b.first++
	}
}

// Len is how many messages wait.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}
