package qemu

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Protocol is the transport of a forwarded port.
type Protocol string

// Protocols QEMU's user-mode network forwards.
const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// DefaultPublishAddr is the host address a PortForward binds when it names
// none: loopback only. A published port is usually a service without
// authentication (a database, a message broker, a debug endpoint) that a
// developer meant for this machine; binding every interface would offer
// it to the whole network. Name 0.0.0.0 to mean that.
var DefaultPublishAddr = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// PortForward forwards a host port to a guest port through QEMU's
// user-mode network.
type PortForward struct {
	Host, Guest uint16
	// Proto is TCP when empty.
	Proto Protocol
	// Addr is the host address to bind; DefaultPublishAddr when zero.
	// QEMU's user-mode network forwards IPv4 only.
	Addr netip.Addr
}

// ParsePortForward parses "[ADDR:]HOST:GUEST[/tcp|/udp]", such as
// "8080:80", "1053:53/udp" or "0.0.0.0:8080:80/tcp".
func ParsePortForward(s string) (PortForward, error) {
	var pf PortForward
	rest := s
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		switch p := Protocol(strings.ToLower(rest[i+1:])); p {
		case TCP, UDP:
			pf.Proto = p
		default:
			return PortForward{}, fmt.Errorf("publish %q: protocol %q: want tcp or udp", s, rest[i+1:])
		}
		rest = rest[:i]
	}
	parts := strings.Split(rest, ":")
	switch len(parts) {
	case 2:
	case 3:
		a, err := netip.ParseAddr(parts[0])
		if err != nil {
			if p := Protocol(strings.ToLower(parts[0])); p == TCP || p == UDP {
				return PortForward{}, fmt.Errorf("publish %q: the protocol goes last: %s:%s/%s", s, parts[1], parts[2], p)
			}
			return PortForward{}, fmt.Errorf("publish %q: %q is not an IPv4 address; want [ADDR:]HOST:GUEST[/tcp|/udp]", s, parts[0])
		}
		if !a.Is4() {
			return PortForward{}, fmt.Errorf("publish %q: %s is not an IPv4 address (QEMU's user-mode network forwards IPv4 only)", s, a)
		}
		pf.Addr = a
		parts = parts[1:]
	default:
		return PortForward{}, fmt.Errorf("publish %q: want [ADDR:]HOST:GUEST[/tcp|/udp], such as 8080:80 or 1053:53/udp", s)
	}
	var err error
	if pf.Host, err = parsePort(parts[0]); err != nil {
		return PortForward{}, fmt.Errorf("publish %q: host port: %w", s, err)
	}
	if pf.Guest, err = parsePort(parts[1]); err != nil {
		return PortForward{}, fmt.Errorf("publish %q: guest port: %w", s, err)
	}
	return pf, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return uint16(n), nil
}

// proto is p's protocol with the default filled in.
func (p PortForward) proto() Protocol {
	if p.Proto == "" {
		return TCP
	}
	return p.Proto
}

// addr is p's host address with the default filled in.
func (p PortForward) addr() netip.Addr {
	if !p.Addr.IsValid() {
		return DefaultPublishAddr
	}
	return p.Addr
}

// String formats p as ParsePortForward reads it, leaving out the defaults:
// "8080:80", "1053:53/udp", "0.0.0.0:8080:80".
func (p PortForward) String() string {
	s := fmt.Sprintf("%d:%d", p.Host, p.Guest)
	if p.Addr.IsValid() {
		s = p.Addr.String() + ":" + s
	}
	if p.proto() != TCP {
		s += "/" + string(p.proto())
	}
	return s
}

// HostEndpoint is the host side as "ADDR:PORT/PROTO", defaults filled in.
func (p PortForward) HostEndpoint() string {
	return netip.AddrPortFrom(p.addr(), p.Host).String() + "/" + string(p.proto())
}

// hostfwd is p as the value of QEMU's user network option hostfwd.
func (p PortForward) hostfwd() string {
	return fmt.Sprintf("%s:%s:%d-:%d", p.proto(), p.addr(), p.Host, p.Guest)
}

// ErrPortInUse is returned (wrapped) by CheckPorts when a host port of a
// forward cannot be bound.
var ErrPortInUse = errors.New("host port already in use")

// CheckPorts says, before QEMU is started, which forward's host port is
// already taken (by another program, or by an earlier forward of the same
// list), so the user reads that instead of QEMU's "Could not set up host
// forwarding rule". A port can still be taken between this check and
// QEMU's bind; Start then reports QEMU's message.
func CheckPorts(pfs []PortForward) error {
	seen := map[string]PortForward{}
	for _, p := range pfs {
		key := fmt.Sprintf("%d/%s", p.Host, p.proto())
		if prev, ok := seen[key]; ok && (prev.addr() == p.addr() || prev.addr().IsUnspecified() || p.addr().IsUnspecified()) {
			return fmt.Errorf("publish %s: %w: publish %s forwards it already", p, ErrPortInUse, prev)
		}
		seen[key] = p
		if err := probeBind(p); err != nil {
			return fmt.Errorf("publish %s: %w: %s is taken by another program (%v); pick another host port",
				p, ErrPortInUse, p.HostEndpoint(), err)
		}
	}
	return nil
}

// probeBind binds p's host endpoint and releases it at once.
func probeBind(p PortForward) error {
	ap := netip.AddrPortFrom(p.addr(), p.Host).String()
	if p.proto() == UDP {
		c, err := net.ListenPacket("udp4", ap)
		if err != nil {
			return unwrapOp(err)
		}
		return c.Close()
	}
	ln, err := net.Listen("tcp4", ap)
	if err != nil {
		return unwrapOp(err)
	}
	return ln.Close()
}

// unwrapOp drops net.OpError's "listen tcp4 ADDR:" prefix, which the
// caller's message already says.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}
