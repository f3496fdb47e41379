package dhcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by exactly the waits asked of it.
type fakeClock struct {
	now time.Time
	log *[]string
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	*c.log = append(*c.log, "wait "+d.String())
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// step is one scripted answer of fakeClient: an error, or a lease.
type step struct {
	err  error
	addr string
}

type fakeClient struct {
	clock  *fakeClock
	log    *[]string
	script []step
	cancel context.CancelFunc
}

func (f *fakeClient) next(op string) (*Lease, error) {
	*f.log = append(*f.log, op)
	if len(f.script) == 0 {
		f.cancel()
		return nil, context.Canceled
	}
	s := f.script[0]
	f.script = f.script[1:]
	if s.err != nil {
		return nil, s.err
	}
	ip, n, _ := net.ParseCIDR(s.addr)
	n.IP = ip
	return &Lease{Addr: *n, Bound: f.clock.now, Duration: 100 * time.Second, T1: 50 * time.Second, T2: 87500 * time.Millisecond}, nil
}

func (f *fakeClient) Request(ctx context.Context) (*Lease, error)         { return f.next("request") }
func (f *fakeClient) Renew(ctx context.Context, l *Lease) (*Lease, error) { return f.next("renew") }
func (f *fakeClient) Rebind(ctx context.Context, l *Lease) (*Lease, error) {
	return f.next("rebind")
}
func (f *fakeClient) Release(l *Lease) error {
	*f.log = append(*f.log, "release "+l.Addr.String())
	return nil
}
func (f *fakeClient) Close() error { return nil }

type fakeConfig struct{ log *[]string }

func (f fakeConfig) Apply(l *Lease) error {
	*f.log = append(*f.log, "apply "+l.Addr.String())
	return nil
}
func (f fakeConfig) Remove(l *Lease) error {
	*f.log = append(*f.log, "remove "+l.Addr.String())
	return nil
}

func TestKeeper(t *testing.T) {
	noAnswer := errors.New("no answer")
	nak := &errNak{errors.New("nak")}
	tests := []struct {
		name string
		// script is the client's answers; when it runs out, ctx is cancelled.
		script []step
		want   []string
	}{
		{
			name:   "backoff, lease, renew and rebind fail, expiry, start over",
			script: []step{{err: noAnswer}, {err: noAnswer}, {addr: "10.0.2.15/24"}, {err: noAnswer}, {err: noAnswer}},
			want: []string{
				"request", "wait 1s", "request", "wait 2s", "request", "apply 10.0.2.15/24", "changed 10.0.2.15/24",
				"wait 50s",            // to T1
				"renew", "wait 37.5s", // renew failed: min(60s, time to T2)
				"rebind", "wait 12.5s", // rebind failed: time to expiry
				"remove 10.0.2.15/24", "changed <nil>",
				"request", // script ends: ctx cancelled
			},
		},
		{
			name:   "renewed, then released at shutdown",
			script: []step{{addr: "10.0.2.15/24"}, {addr: "10.0.2.15/24"}},
			want: []string{
				"request", "apply 10.0.2.15/24", "changed 10.0.2.15/24",
				"wait 50s", "renew", "apply 10.0.2.15/24", "changed 10.0.2.15/24",
				"wait 50s", "renew", // script ends: ctx cancelled while bound
				"release 10.0.2.15/24",
			},
		},
		{
			name:   "new address on renewal replaces the old one",
			script: []step{{addr: "10.0.2.15/24"}, {addr: "10.0.2.16/24"}},
			want: []string{
				"request", "apply 10.0.2.15/24", "changed 10.0.2.15/24",
				"wait 50s", "renew", "remove 10.0.2.15/24", "apply 10.0.2.16/24", "changed 10.0.2.16/24",
				"wait 50s", "renew", "release 10.0.2.16/24",
			},
		},
		{
			name:   "NAK drops the address at once",
			script: []step{{addr: "10.0.2.15/24"}, {err: nak}},
			want: []string{
				"request", "apply 10.0.2.15/24", "changed 10.0.2.15/24",
				"wait 50s", "renew", "remove 10.0.2.15/24", "changed <nil>", "request",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log []string
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			clock := &fakeClock{now: t0, log: &log}
			var lines []string
			k := &Keeper{
				Name:   "eth0",
				Client: &fakeClient{clock: clock, log: &log, script: tt.script, cancel: cancel},
				Config: fakeConfig{log: &log},
				Clock:  clock,
				Logf:   func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) },
				OnChange: func(l *Lease) {
					if l == nil {
						log = append(log, "changed <nil>")
						return
					}
					log = append(log, "changed "+l.Addr.String())
				},
			}
			done := make(chan struct{})
			go func() { k.Run(ctx); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return")
			}
			if !reflect.DeepEqual(log, tt.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(log, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if len(lines) == 0 || !strings.HasPrefix(lines[0], "network: eth0: ") {
				t.Errorf("console lines %q", lines)
			}
		})
	}
}
