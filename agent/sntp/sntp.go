// Package sntp asks an NTP server for the time (RFC 4330, client mode).
//
// One request, one reply, four timestamps: a library would be overkill for
// what fits in a hundred lines, and the agent is in every image.
package sntp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
)

// Port is the NTP server port.
const Port = "123"

// packetLen is the NTP header without extension fields or MAC.
const packetLen = 48

// ntpEpochOffset is the seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const ntpEpochOffset = 2208988800

// Packet mirrors the 48-byte NTP header (RFC 4330 section 4).
type Packet struct {
	LIVNMode       uint8 // leap indicator (2 bits), version (3), mode (3)
	Stratum        uint8
	Poll           int8
	Precision      int8
	RootDelay      uint32
	RootDispersion uint32
	ReferenceID    uint32
	Reference      uint64 // NTP timestamps: 32.32 fixed point seconds since 1900
	Originate      uint64
	Receive        uint64
	Transmit       uint64
}

// Modes and the leap indicator value for "clock not synchronized".
const (
	modeClient  = 3
	modeServer  = 4
	version     = 4
	leapNotSync = 3
	maxStratum  = 15
)

// MarshalBinary encodes p in network byte order.
func (p *Packet) MarshalBinary() ([]byte, error) {
	b := make([]byte, packetLen)
	b[0], b[1], b[2], b[3] = p.LIVNMode, p.Stratum, byte(p.Poll), byte(p.Precision)
	binary.BigEndian.PutUint32(b[4:], p.RootDelay)
	binary.BigEndian.PutUint32(b[8:], p.RootDispersion)
	binary.BigEndian.PutUint32(b[12:], p.ReferenceID)
	binary.BigEndian.PutUint64(b[16:], p.Reference)
	binary.BigEndian.PutUint64(b[24:], p.Originate)
	binary.BigEndian.PutUint64(b[32:], p.Receive)
	binary.BigEndian.PutUint64(b[40:], p.Transmit)
	return b, nil
}

// UnmarshalBinary decodes a header, ignoring any extension fields.
func (p *Packet) UnmarshalBinary(b []byte) error {
	if len(b) < packetLen {
		return fmt.Errorf("ntp packet: %d bytes, want at least %d", len(b), packetLen)
	}
	p.LIVNMode, p.Stratum, p.Poll, p.Precision = b[0], b[1], int8(b[2]), int8(b[3])
	p.RootDelay = binary.BigEndian.Uint32(b[4:])
	p.RootDispersion = binary.BigEndian.Uint32(b[8:])
	p.ReferenceID = binary.BigEndian.Uint32(b[12:])
	p.Reference = binary.BigEndian.Uint64(b[16:])
	p.Originate = binary.BigEndian.Uint64(b[24:])
	p.Receive = binary.BigEndian.Uint64(b[32:])
	p.Transmit = binary.BigEndian.Uint64(b[40:])
	return nil
}

// ToNTP converts t to an NTP timestamp.
func ToNTP(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := (uint64(t.Nanosecond()) << 32) / 1e9
	return secs<<32 | frac
}

// FromNTP converts an NTP timestamp to a time. Era 0 wraps in 2036; per
// RFC 4330 section 3, timestamps with the top bit clear are taken to be in
// era 1 (after 2036-02-07).
func FromNTP(ts uint64) time.Time {
	secs := int64(ts >> 32)
	if secs&0x80000000 == 0 {
		secs += 1 << 32
	}
	nsec := (int64(ts&0xffffffff) * 1e9) >> 32
	return time.Unix(secs-ntpEpochOffset, nsec)
}

// Result is one successful exchange.
type Result struct {
	// Offset is how far the local clock is behind the server's: add it to
	// the local time to get the server's.
	Offset time.Duration
	// RTT is the round-trip delay, server processing excluded.
	RTT time.Duration
	// Server is the address answered from.
	Server string
}

// Query asks server ("host" or "host:port") once. now is the local clock
// (time.Now in production); the deadline comes from ctx.
func Query(ctx context.Context, server string, now func() time.Time) (Result, error) {
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, Port)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", server)
	if err != nil {
		return Result{}, fmt.Errorf("sntp %s: %w", server, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Closing the socket unblocks the read when ctx ends without a deadline.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	t1 := now()
	req := Packet{LIVNMode: version<<3 | modeClient, Transmit: ToNTP(t1)}
	b, _ := req.MarshalBinary()
	if _, err := conn.Write(b); err != nil {
		return Result{}, fmt.Errorf("sntp %s: send: %w", server, err)
	}
	buf := make([]byte, 512)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			// The socket's deadline is ctx's, and either may be noticed
			// first: report the context's error for both, so callers see
			// one error for one cause.
			if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
				err = context.DeadlineExceeded
			} else if ctx.Err() != nil {
				err = ctx.Err()
			}
			return Result{}, fmt.Errorf("sntp %s: receive: %w", server, err)
		}
		t4 := now()
		var resp Packet
		if err := resp.UnmarshalBinary(buf[:n]); err != nil {
			continue // not NTP; keep waiting for the real answer
		}
		// A reply must echo our transmit time (RFC 4330 section 5):
		// anything else is stale or forged.
		if resp.Originate != req.Transmit {
			continue
		}
		if err := check(&resp); err != nil {
			return Result{}, fmt.Errorf("sntp %s: %w", server, err)
		}
		off, rtt := offset(t1, FromNTP(resp.Receive), FromNTP(resp.Transmit), t4)
		return Result{Offset: off, RTT: rtt, Server: conn.RemoteAddr().String()}, nil
	}
}

// check applies the sanity checks of RFC 4330 section 5.
func check(p *Packet) error {
	switch {
	case p.LIVNMode&7 != modeServer:
		return fmt.Errorf("reply mode %d, want %d", p.LIVNMode&7, modeServer)
	case p.LIVNMode>>6 == leapNotSync:
		return errors.New("server clock not synchronized")
	case p.Stratum == 0:
		return errors.New("kiss-o'-death (stratum 0)")
	case p.Stratum > maxStratum:
		return fmt.Errorf("stratum %d", p.Stratum)
	case p.Transmit == 0:
		return errors.New("zero transmit timestamp")
	}
	return nil
}

// offset is the clock offset and round-trip delay of RFC 4330 section 5:
// t1 client send, t2 server receive, t3 server send, t4 client receive.
func offset(t1, t2, t3, t4 time.Time) (off, rtt time.Duration) {
	off = (t2.Sub(t1) + t3.Sub(t4)) / 2
	rtt = t4.Sub(t1) - t3.Sub(t2)
	return off, rtt
}

// First queries all servers at once and returns the first good answer, or
// all the errors when none answers before ctx ends.
func First(ctx context.Context, servers []string, now func() time.Time) (Result, error) {
	if len(servers) == 0 {
		return Result{}, errors.New("sntp: no servers")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		r   Result
		err error
	}
	ch := make(chan answer, len(servers))
	for _, s := range servers {
		go func() {
			r, err := Query(ctx, s, now)
			ch <- answer{r, err}
		}()
	}
	var errs []error
	for range servers {
		a := <-ch
		if a.err == nil {
			return a.r, nil
		}
		errs = append(errs, a.err)
	}
	return Result{}, errors.Join(errs...)
}
