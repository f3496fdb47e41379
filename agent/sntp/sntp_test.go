package sntp

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeServer answers like an NTP server whose clock is skew ahead of ours.
// mutate may alter each reply.
func fakeServer(t *testing.T, skew time.Duration, mutate func(*Packet)) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var req Packet
			if err := req.UnmarshalBinary(buf[:n]); err != nil {
				continue
			}
			now := time.Now().Add(skew)
			resp := Packet{
				LIVNMode:  version<<3 | modeServer,
				Stratum:   2,
				Originate: req.Transmit,
				Receive:   ToNTP(now),
				Transmit:  ToNTP(now),
			}
			if mutate != nil {
				mutate(&resp)
			}
			b, _ := resp.MarshalBinary()
			// A garbage datagram first: the client must skip it.
			_, _ = pc.WriteTo([]byte("junk"), addr)
			_, _ = pc.WriteTo(b, addr)
		}
	}()
	return pc.LocalAddr().String()
}

func TestQuery(t *testing.T) {
	tests := []struct {
		name    string
		skew    time.Duration
		mutate  func(*Packet)
		wantErr string
	}{
		{name: "ahead", skew: time.Hour + 2*time.Minute + 3*time.Second},
		{name: "behind", skew: -90 * time.Second},
		{name: "in sync", skew: 0},
		{name: "kiss of death", mutate: func(p *Packet) { p.Stratum = 0 }, wantErr: "kiss"},
		{name: "unsynchronized", mutate: func(p *Packet) { p.LIVNMode |= leapNotSync << 6 }, wantErr: "not synchronized"},
		{name: "wrong mode", mutate: func(p *Packet) { p.LIVNMode = version<<3 | modeClient }, wantErr: "mode"},
		{name: "wrong originate", mutate: func(p *Packet) { p.Originate++ }, wantErr: "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeServer(t, tt.skew, tt.mutate)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			r, err := Query(ctx, addr, time.Now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := r.Offset - tt.skew; d < -50*time.Millisecond || d > 50*time.Millisecond {
				t.Errorf("offset %v, want about %v", r.Offset, tt.skew)
			}
			if r.RTT < -time.Millisecond || r.RTT > 100*time.Millisecond {
				t.Errorf("rtt %v", r.RTT)
			}
			if r.Server != addr {
				t.Errorf("server %q, want %q", r.Server, addr)
			}
		})
	}
}

func TestFirst(t *testing.T) {
	bad := fakeServer(t, 0, func(p *Packet) { p.Stratum = 0 })
	good := fakeServer(t, time.Minute, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r, err := First(ctx, []string{bad, good}, time.Now)
	if err != nil || r.Server != good {
		t.Fatalf("First = %+v, %v", r, err)
	}
	if _, err := First(ctx, nil, time.Now); err == nil {
		t.Error("no servers: no error")
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := First(ctx2, []string{bad}, time.Now); err == nil {
		t.Error("only bad server: no error")
	}
}

func TestTimestamps(t *testing.T) {
	tests := []time.Time{
		time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2040, 1, 1, 0, 0, 0, 500000000, time.UTC), // era 1
	}
	for _, want := range tests {
		got := FromNTP(ToNTP(want))
		if d := got.Sub(want); d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("%v round-trips to %v", want, got)
		}
	}
}

func TestOffset(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Client 10s behind, 20ms each way, 1ms server processing.
	t1 := base
	t2 := base.Add(10*time.Second + 20*time.Millisecond)
	t3 := t2.Add(time.Millisecond)
	t4 := base.Add(41 * time.Millisecond)
	off, rtt := offset(t1, t2, t3, t4)
	if off != 10*time.Second || rtt != 40*time.Millisecond {
		t.Fatalf("offset %v rtt %v", off, rtt)
	}
}
