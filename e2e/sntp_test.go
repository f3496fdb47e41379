package e2e

import (
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/agent/sntp"
)

// sntpServer answers NTP client requests on the host's loopback with the
// host's time shifted by skew.
type sntpServer struct {
	port int
	n    atomic.Int64
}

func (s *sntpServer) requests() int64 { return s.n.Load() }

// startSNTP starts a server on 127.0.0.1 (an unprivileged port) that lives
// until the test ends.
func startSNTP(t *testing.T, skew time.Duration) *sntpServer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("sntp server: %v", err)
	}
	s := &sntpServer{port: conn.LocalAddr().(*net.UDPAddr).Port}
	done := make(chan struct{})
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			recv := time.Now().Add(skew)
			var req sntp.Packet
			if req.UnmarshalBinary(buf[:n]) != nil || req.LIVNMode&7 != 3 {
				continue // not a client request
			}
			s.n.Add(1)
			resp := sntp.Packet{
				LIVNMode:  4<<3 | 4, // no leap warning, version 4, server
				Stratum:   2,
				Precision: -20,
				Reference: sntp.ToNTP(recv),
				Originate: req.Transmit,
				Receive:   sntp.ToNTP(recv),
				Transmit:  sntp.ToNTP(time.Now().Add(skew)),
			}
			b, _ := resp.MarshalBinary()
			_, _ = conn.WriteToUDP(b, from)
		}
	}()
	return s
}

// TestSNTPServer checks the test server against the agent's own client,
// so that a failure of the boot test points at the guest, not the server.
func TestSNTPServer(t *testing.T) {
	const skew = 1000 * 24 * time.Hour
	s := startSNTP(t, skew)
	ctx := t.Context()
	r, err := sntp.Query(ctx, net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Offset - skew; d < -time.Second || d > time.Second {
		t.Errorf("offset %v, want %v", r.Offset, skew)
	}
	if s.requests() != 1 {
		t.Errorf("server counted %d requests, want 1", s.requests())
	}
}
