package syslog

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

var at = time.Date(2026, 12, 1, 19, 40, 0, 123456000, time.FixedZone("CET", 3600))

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		host string
		max  int
		want string
	}{
		{"agent line", Message{Time: at, Facility: Daemon, Severity: Info, AppName: "tinyboot", ProcID: "1", Text: "network: eth0: leased 10.0.2.15/24"},
			"e2e", MaxUDP, "<30>1 2026-12-01T18:40:00.123456Z e2e tinyboot 1 - - network: eth0: leased 10.0.2.15/24"},
		{"app stderr", Message{Time: at, Facility: User, Severity: Err, AppName: "hello", Text: "boom\n"},
			"e2e", MaxUDP, "<11>1 2026-12-01T18:40:00.123456Z e2e hello - - - boom"},
		{"bad header characters", Message{Time: at, Facility: User, Severity: Info, AppName: "my app", ProcID: "", Text: "x"},
			"", MaxUDP, "<14>1 2026-12-01T18:40:00.123456Z - my_app - - - x"},
		{"cut at a character", Message{Time: at, Facility: User, Severity: Info, AppName: "a", Text: "ééé"},
			"h", len("<14>1 2026-12-01T18:40:00.123456Z h a - - - ") + 3, "<14>1 2026-12-01T18:40:00.123456Z h a - - - é"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(Format(tc.m, tc.host, tc.max)); got != tc.want {
				t.Errorf("Format =\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}

func TestFrame(t *testing.T) {
	msg := []byte("<30>1 - h a - - - héllo")
	if got := string(Frame("tcp", msg)); got != strconv.Itoa(len(msg))+" "+string(msg) {
		t.Errorf("tcp frame = %q", got)
	}
	if got := string(Frame("tcp", msg)); !strings.HasPrefix(got, "24 ") {
		t.Errorf("tcp frame counts octets, not characters: %q", got)
	}
	if got := string(Frame("udp", msg)); got != string(msg) {
		t.Errorf("udp frame = %q", got)
	}
}

func TestBufferDropsOldest(t *testing.T) {
	tests := []struct {
		name          string
		maxMsgs, maxB int
		texts         []string
		left          []string
		dropped       uint64
	}{
		{"fits", 3, 100, []string{"a", "b"}, []string{"a", "b"}, 0},
		{"count bound", 2, 100, []string{"a", "b", "c", "d"}, []string{"c", "d"}, 2},
		{"byte bound", 10, 5, []string{"aaa", "bbb", "cc"}, []string{"bbb", "cc"}, 1},
		{"one huge message stays", 10, 2, []string{"aaa", "bbbbbb"}, []string{"bbbbbb"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuffer(tc.maxMsgs, tc.maxB)
			for _, s := range tc.texts {
				b.Add(Message{Text: s})
			}
			msgs, first, dropped := b.peek(100)
			var got []string
			for _, m := range msgs {
				got = append(got, m.Text)
			}
			if strings.Join(got, ",") != strings.Join(tc.left, ",") || dropped != tc.dropped || first != tc.dropped {
				t.Errorf("left %v first %d dropped %d; want %v, %d", got, first, dropped, tc.left, tc.dropped)
			}
		})
	}
	b := NewBuffer(10, 100)
	b.Add(Message{Text: "a"})
	b.Close()
	b.Add(Message{Text: "b"})
	if b.Len() != 0 {
		t.Errorf("closed buffer holds %d messages", b.Len())
	}
}

// TestForwardUDP sends buffered messages, including those queued before
// the server was reachable, to a real UDP socket.
func TestForwardUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	buf := NewBuffer(2, 1<<20)
	for i := range 3 {
		buf.Add(Message{Time: at, Facility: Daemon, Severity: Info, AppName: "tinyboot", Text: fmt.Sprintf("early %d", i)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &Forwarder{Network: "udp", Addr: pc.LocalAddr().String(), Hostname: "e2e", Buf: buf}
	go f.Run(ctx)
	var got []string
	p := make([]byte, 4096)
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(got) < 3 {
		n, _, err := pc.ReadFrom(p)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, string(p[:n]))
	}
	want := []string{
		"dropped 1 lines while the server could not be reached",
		"<30>1 2026-12-01T18:40:00.123456Z e2e tinyboot - - - early 1",
		"<30>1 2026-12-01T18:40:00.123456Z e2e tinyboot - - - early 2",
	}
	if !strings.HasPrefix(got[0], "<28>1 ") || !strings.HasSuffix(got[0], want[0]) || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	fctx, fcancel := context.WithTimeout(ctx, 5*time.Second)
	defer fcancel()
	if err := f.Flush(fctx); err != nil {
		t.Error(err)
	}
}

// TestForwardTCP checks the octet-counted stream, across a server that
// only starts listening after the first attempts failed.
func TestForwardTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens yet: the forwarder must retry
	buf := NewBuffer(100, 1<<20)
	texts := []string{"first line", "second, with ünïcode", strings.Repeat("x", 3000)}
	for _, s := range texts {
		buf.Add(Message{Time: at, Facility: User, Severity: Err, AppName: "app", Text: s})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &Forwarder{Network: "tcp", Addr: addr, Hostname: "h", Buf: buf}
	go f.Run(ctx)
	time.Sleep(300 * time.Millisecond)
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	defer ln.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	for _, want := range texts {
		lenStr, err := r.ReadString(' ')
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(strings.TrimSuffix(lenStr, " "))
		if err != nil {
			t.Fatalf("frame length %q: %v", lenStr, err)
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(r, msg); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(msg), "<11>1 ") || !strings.HasSuffix(string(msg), " app - - - "+want) {
			t.Errorf("message %q, want text %q", msg, want)
		}
	}
}
