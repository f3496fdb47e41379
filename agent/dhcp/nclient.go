package dhcp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/insomniacslk/dhcp/iana"
	"golang.org/x/sys/unix"
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

// Request runs DISCOVER-OFFER-REQUEST-ACK as nclient4.Client.Request
// does, but with messages from newMessage (see there why).
func (n *nclientConn) Request(ctx context.Context) (*Lease, error) {
	hw := n.c.InterfaceAddr()
	offer, err := n.c.SendAndRead(ctx, nclient4.DefaultServers,
		discoverMessage(transactionID(hw), hw, n.mods()...),
		nclient4.IsMessageType(dhcpv4.MessageTypeOffer))
	if err != nil {
		return nil, fmt.Errorf("unable to receive an offer: %w", err)
	}
	ack, err := n.c.SendAndRead(ctx, nclient4.DefaultServers, requestMessage(offer, n.mods()...),
		nclient4.IsAll(
			nclient4.IsCorrectServer(offer.ServerIdentifier()),
			nclient4.IsMessageType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)))
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", offer.YourIPAddr, err)
	}
	if ack.MessageType() == dhcpv4.MessageTypeNak {
		return nil, &nclient4.ErrNak{Offer: offer, Nak: ack}
	}
	return wrap(&nclient4.Lease{Offer: offer, ACK: ack, CreationTime: time.Now()})
}

// defaultRequested are the options dhcpv4's DISCOVER and REQUEST always
// ask for; mods add the agent's.
var defaultRequested = dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter,
	dhcpv4.OptionDomainName, dhcpv4.OptionDomainNameServer)

// discoverMessage is the DISCOVER nclient4.Client.DiscoverOffer sends
// from hw, with transaction id xid.
func discoverMessage(xid dhcpv4.TransactionID, hw net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	return newMessage(xid, append([]dhcpv4.Modifier{
		dhcpv4.WithHwAddr(hw),
		defaultRequested,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover),
		dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(nclient4.MaxMessageSize)),
	}, mods...)...)
}

// requestMessage is the REQUEST nclient4.Client.RequestFromOffer sends
// for offer; it carries the offer's transaction id.
func requestMessage(offer *dhcpv4.DHCPv4, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	return newMessage(offer.TransactionID, append([]dhcpv4.Modifier{
		dhcpv4.WithReply(offer),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(offer.ClientIPAddr),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)),
		dhcpv4.WithOptionCopied(offer, dhcpv4.OptionServerIdentifier),
		defaultRequested,
		dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(nclient4.MaxMessageSize)),
	}, mods...)...)
}

// newMessage is dhcpv4.New without its wait for the kernel's random
// number generator. New draws the transaction id with getrandom, which
// at early boot on a machine with neither RDRAND nor an RNG device the
// agent has loaded waits until the kernel has gathered its entropy: about
// a second under QEMU's emulation, the larger part of DHCP's time at
// boot. An xid only pairs a server's answers with this client's request
// (RFC 2131 section 2) and need not be secret, so transactionID takes it
// from getrandom(GRND_INSECURE), which never waits. The fields are New's
// defaults; the modifiers then make the message.
func newMessage(xid dhcpv4.TransactionID, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	d := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootRequest,
		HWType:        iana.HWTypeEthernet,
		ClientHWAddr:  make(net.HardwareAddr, 6),
		TransactionID: xid,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: net.IPv4zero,
		Options:       make(dhcpv4.Options),
	}
	for _, m := range mods {
		m(d)
	}
	return d
}

// transactionID is a new xid for an exchange on the link with hardware
// address hw: from getrandom(GRND_INSECURE) (Linux 5.6 and later), else
// getrandom(GRND_NONBLOCK) once the kernel's generator is ready, else a
// hash of hw and the monotonic clock, which still differs between
// clients (their addresses differ) and between exchanges.
func transactionID(hw net.HardwareAddr) dhcpv4.TransactionID {
	var xid dhcpv4.TransactionID
	for _, flag := range []int{unix.GRND_INSECURE, unix.GRND_NONBLOCK} {
		if n, err := unix.Getrandom(xid[:], flag); err == nil && n == len(xid) {
			return xid
		}
	}
	h := fnv.New32a()
	h.Write(hw)
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	binary.Write(h, binary.LittleEndian, ts.Nano())
	copy(xid[:], h.Sum(nil))
	return xid
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
