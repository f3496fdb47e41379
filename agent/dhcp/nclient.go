package dhcp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// requested are the options the agent uses (RFC 2132 codes 1, 3, 6, 15,
// 26, 42).
var requested = []dhcpv4.OptionCode{
	dhcpv4.OptionSubnetMask,
	dhcpv4.OptionRouter,
	dhcpv4.OptionDomainNameServer,
	dhcpv4.OptionDomainName,
	dhcpv4.OptionInterfaceMTU,
	dhcpv4.OptionNTPServers,
}

// nclientConn is Client over nclient4's raw-socket client, which works on
// a link with no address yet.
type nclientConn struct {
	c        *nclient4.Client
	hostname string
}

// Per-attempt timing: a quick first retry matters on boot, where the first
// DISCOVER can go out before the link is really up.
const (
	attemptTimeout = 500 * time.Millisecond
	attemptRetries = 5
)

// Dial opens a DHCP client on the link named iface.
func Dial(iface, hostname string) (Client, error) {
	c, err := nclient4.New(iface, nclient4.WithTimeout(attemptTimeout), nclient4.WithRetry(attemptRetries))
	if err != nil {
		return nil, fmt.Errorf("dhcp client on %s: %w", iface, err)
	}
	return &nclientConn{c: c, hostname: hostname}, nil
}

func (n *nclientConn) mods() []dhcpv4.Modifier {
	m := []dhcpv4.Modifier{dhcpv4.WithRequestedOptions(requested...)}
	if n.hostname != "" {
		m = append(m, dhcpv4.WithOption(dhcpv4.OptHostName(n.hostname)))
	}
	return m
}

func (n *nclientConn) Request(ctx context.Context) (*Lease, error) {
	raw, err := n.c.Request(ctx, n.mods()...)
	if err != nil {
		return nil, err
	}
	return wrap(raw)
}

func (n *nclientConn) Renew(ctx context.Context, l *Lease) (*Lease, error) {
	raw, err := n.c.Renew(ctx, l.raw, n.mods()...)
	var nak *nclient4.ErrNak
	if errors.As(err, &nak) {
		return nil, &errNak{err}
	}
	if err != nil {
		return nil, err
	}
	return wrap(raw)
}

// Rebind broadcasts the renewal and takes an answer from any server
// (RFC 2131 section 4.4.5); nclient4.Renew only accepts the original one.
func (n *nclientConn) Rebind(ctx context.Context, l *Lease) (*Lease, error) {
	req, err := dhcpv4.NewRenewFromAck(l.raw.ACK, append(n.mods(),
		// REBINDING requests carry no server identifier (RFC 2131 4.3.2).
		func(d *dhcpv4.DHCPv4) { d.Options.Del(dhcpv4.OptionServerIdentifier) })...)
	if err != nil {
		return nil, fmt.Errorf("rebind request: %w", err)
	}
	resp, err := n.c.SendAndRead(ctx, nclient4.DefaultServers, req,
		nclient4.IsMessageType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak))
	if err != nil {
		return nil, fmt.Errorf("rebind: %w", err)
	}
	if resp.MessageType() == dhcpv4.MessageTypeNak {
		return nil, &errNak{fmt.Errorf("rebind: NAK from %s", resp.ServerIdentifier())}
	}
	return wrap(&nclient4.Lease{Offer: l.raw.Offer, ACK: resp, CreationTime: time.Now()})
}

func (n *nclientConn) Release(l *Lease) error {
	if l.raw == nil {
		return nil
	}
	return n.c.Release(l.raw)
}

func (n *nclientConn) Close() error { return n.c.Close() }

func wrap(raw *nclient4.Lease) (*Lease, error) {
	l, err := FromACK(raw.ACK, raw.CreationTime)
	if err != nil {
		return nil, err
	}
	if l.Server == nil {
		l.Server = raw.Offer.ServerIdentifier()
	}
	l.raw = raw
	return l, nil
}
