package dhcp

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/tinyboot/tinyboot/agent/clock"
)

// Client talks DHCP on one link; *nclientConn is the real one.
type Client interface {
	// Request runs discover-offer-request-ack.
	Request(ctx context.Context) (*Lease, error)
	// Renew asks the leasing server to extend l (RENEWING).
	Renew(ctx context.Context, l *Lease) (*Lease, error)
	// Rebind asks any server to extend l (REBINDING).
	Rebind(ctx context.Context, l *Lease) (*Lease, error)
	// Release gives l back.
	Release(l *Lease) error
	Close() error
}

// Configurer applies leases to a link; *netlinkConfig is the real one.
type Configurer interface {
	Apply(l *Lease) error
	Remove(l *Lease) error
}

// Clock is the time source; tests drive it by hand.
type Clock = clock.Clock

// Backoff bounds for links that get no answer.
const (
	firstBackoff = time.Second
	maxBackoff   = time.Minute
)

// Keeper holds the lease of one link for as long as its context lives.
type Keeper struct {
	Name   string
	Client Client
	Config Configurer
	Clock  Clock
	Logf   func(format string, args ...any)
	// OnChange is called with the current lease (nil when lost) whenever it
	// changes.
	OnChange func(l *Lease)
}

// Run acquires and keeps a lease until ctx ends, then releases it.
func (k *Keeper) Run(ctx context.Context) {
	backoff := firstBackoff
	for ctx.Err() == nil {
		l, err := k.Client.Request(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Log while the backoff grows, then stay quiet: a link with no
			// server would otherwise print a line a minute forever.
			if backoff < maxBackoff {
				k.Logf("network: %s: no lease (%v); retrying in %s", k.Name, err, backoff)
			}
			if !k.sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		backoff = firstBackoff
		if err := k.Config.Apply(l); err != nil {
			k.Logf("network: %s: configure %s: %v", k.Name, l.Addr.String(), err)
			_ = k.Client.Release(l)
			if !k.sleep(ctx, firstBackoff) {
				return
			}
			continue
		}
		k.Logf("network: %s: leased %s", k.Name, l.Summary())
		k.changed(l)
		if l = k.hold(ctx, l); l != nil {
			// ctx ended with the lease bound: give it back.
			if err := k.Client.Release(l); err != nil {
				k.Logf("network: %s: release: %v", k.Name, err)
			}
			return
		}
	}
}

// hold keeps l bound through renewals. It returns nil after the lease
// expired (address removed), or the current lease when ctx ended.
func (k *Keeper) hold(ctx context.Context, l *Lease) *Lease {
	for {
		if l.Infinite() {
			<-ctx.Done()
			return l
		}
		now := k.Clock.Now()
		var next *Lease
		var err error
		var wait time.Duration
		switch {
		case now.Before(l.Renew()):
			wait = l.Renew().Sub(now)
		case now.Before(l.Rebind()):
			next, err = k.Client.Renew(ctx, l)
			wait = retryDelay(k.Clock.Now(), l.Rebind())
		case now.Before(l.Expiry()):
			next, err = k.Client.Rebind(ctx, l)
			wait = retryDelay(k.Clock.Now(), l.Expiry())
		default:
			k.Logf("network: %s: lease on %s expired", k.Name, l.Addr.String())
			if err := k.Config.Remove(l); err != nil {
				k.Logf("network: %s: remove %s: %v", k.Name, l.Addr.String(), err)
			}
			k.changed(nil)
			return nil
		}
		if ctx.Err() != nil {
			return l
		}
		if next != nil {
			if !next.Addr.IP.Equal(l.Addr.IP) || !bytesEqual(next.Addr.Mask, l.Addr.Mask) {
				_ = k.Config.Remove(l)
			}
			if err := k.Config.Apply(next); err != nil {
				k.Logf("network: %s: configure %s: %v", k.Name, next.Addr.String(), err)
			}
			k.Logf("network: %s: renewed %s", k.Name, next.Summary())
			l = next
			k.changed(l)
			continue
		}
		var nak *errNak
		if errors.As(err, &nak) {
			// The server says the address is no longer ours: stop using it now.
			k.Logf("network: %s: lease on %s refused (NAK)", k.Name, l.Addr.String())
			_ = k.Config.Remove(l)
			k.changed(nil)
			return nil
		}
		if err != nil {
			k.Logf("network: %s: renew: %v; retrying in %s", k.Name, err, wait)
		}
		if !k.sleep(ctx, wait) {
			return l
		}
	}
}

func (k *Keeper) changed(l *Lease) {
	if k.OnChange != nil {
		k.OnChange(l)
	}
}

// sleep waits d; false when ctx ended first.
func (k *Keeper) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-k.Clock.After(d):
		return true
	}
}

// errNak is a server's refusal to renew.
type errNak struct{ err error }

func (e *errNak) Error() string { return e.err.Error() }
func (e *errNak) Unwrap() error { return e.err }

func bytesEqual(a, b net.IPMask) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
