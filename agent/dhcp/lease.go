// Package dhcp keeps DHCPv4 leases on the machine's network links: it
// acquires them with github.com/insomniacslk/dhcp/dhcpv4/nclient4, applies
// them with github.com/vishvananda/netlink, renews at T1, rebinds at T2,
// starts over when a lease expires, and releases them at shutdown.
package dhcp

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// defaultLease is assumed when a server sends no lease time, which RFC
// 2131 does not allow for DHCPREQUEST replies but some servers do anyway.
const defaultLease = time.Hour

// infinite is the lease time meaning "forever" (RFC 2131 section 3.3).
const infinite = time.Duration(0xffffffff) * time.Second

// minRetry is the shortest wait between renew or rebind attempts
// (RFC 2131 section 4.4.5).
const minRetry = 60 * time.Second

// Lease is what the agent uses from a DHCPACK.
type Lease struct {
	Addr   net.IPNet
	Router net.IP // nil when the server sent none
	DNS    []net.IP
	NTP    []net.IP
	Domain string
	MTU    int // 0 when the server sent none
	Server net.IP

	// Bound is when the lease started (the ACK's arrival); the durations
	// count from it.
	Bound    time.Time
	Duration time.Duration
	T1, T2   time.Duration

	raw *nclient4.Lease
}

// FromACK extracts a Lease from an ACK that arrived at bound.
func FromACK(ack *dhcpv4.DHCPv4, bound time.Time) (*Lease, error) {
	ip := ack.YourIPAddr.To4()
	if ip == nil || ip.IsUnspecified() {
		return nil, fmt.Errorf("dhcp ack without an address")
	}
	mask := ack.SubnetMask()
	if mask == nil {
		mask = ip.DefaultMask()
	}
	l := &Lease{
		Addr:     net.IPNet{IP: ip, Mask: mask},
		DNS:      ack.DNS(),
		NTP:      ack.NTPServers(),
		Domain:   ack.DomainName(),
		Server:   ack.ServerIdentifier(),
		Bound:    bound,
		Duration: ack.IPAddressLeaseTime(defaultLease),
	}
	if r := ack.Router(); len(r) > 0 {
		l.Router = r[0]
	}
	if v := ack.Options.Get(dhcpv4.OptionInterfaceMTU); len(v) == 2 {
		// RFC 2132 section 5.1: at least 68.
		if mtu := int(v[0])<<8 | int(v[1]); mtu >= 68 {
			l.MTU = mtu
		}
	}
	l.T1, l.T2 = timers(l.Duration, ack.IPAddressRenewalTime(0), ack.IPAddressRebindingTime(0))
	return l, nil
}

// timers returns T1 and T2 for a lease of length d with the server's
// offered values t1 and t2 (0 when absent), falling back to the RFC 2131
// section 4.4.5 defaults (0.5 and 0.875 of the lease) when a value is
// missing or out of order.
func timers(d, t1, t2 time.Duration) (time.Duration, time.Duration) {
	if t2 <= 0 || t2 >= d {
		t2 = d * 7 / 8
	}
	if t1 <= 0 || t1 >= t2 {
		t1 = d / 2
		if t1 >= t2 {
			t1 = t2
		}
	}
	return t1, t2
}

// Infinite reports whether the lease never expires.
func (l *Lease) Infinite() bool { return l.Duration >= infinite }

// Renew is when to start renewing with the leasing server (T1).
func (l *Lease) Renew() time.Time { return l.Bound.Add(l.T1) }

// Rebind is when to start asking any server (T2).
func (l *Lease) Rebind() time.Time { return l.Bound.Add(l.T2) }

// Expiry is when the address must be given up.
func (l *Lease) Expiry() time.Time { return l.Bound.Add(l.Duration) }

// retryDelay is how long to wait after a failed renew or rebind at now
// before trying again, with deadline the next state change: half the time
// left, but at least a minute (RFC 2131 section 4.4.5), and never past
// the deadline.
func retryDelay(now, deadline time.Time) time.Duration {
	left := deadline.Sub(now)
	if left <= 0 {
		return 0
	}
	d := left / 2
	if d < minRetry {
		d = minRetry
	}
	if d > left {
		d = left
	}
	return d
}

// Summary is the console form of a lease:
// "10.0.2.15/24 via 10.0.2.2 dns 10.0.2.3 (lease 24h0m0s)".
func (l *Lease) Summary() string {
	var b strings.Builder
	b.WriteString(l.Addr.String())
	if l.Router != nil {
		b.WriteString(" via " + l.Router.String())
	}
	if len(l.DNS) > 0 {
		b.WriteString(" dns " + joinIPs(l.DNS, ","))
	}
	if l.Infinite() {
		b.WriteString(" (lease infinite)")
	} else {
		fmt.Fprintf(&b, " (lease %s)", l.Duration)
	}
	return b.String()
}

func joinIPs(ips []net.IP, sep string) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, sep)
}

// ResolvConf renders /etc/resolv.conf for the given leases: their DNS
// servers in order without repeats (at most three, the resolver's limit)
// and their domains as the search list. Nil when no server is known.
func ResolvConf(leases []*Lease) []byte {
	var b strings.Builder
	seenNS := map[string]bool{}
	seenDom := map[string]bool{}
	var doms []string
	n := 0
	for _, l := range leases {
		for _, ip := range l.DNS {
			s := ip.String()
			if seenNS[s] || n == 3 {
				continue
			}
			seenNS[s] = true
			n++
			b.WriteString("nameserver " + s + "\n")
		}
		if l.Domain != "" && !seenDom[l.Domain] {
			seenDom[l.Domain] = true
			doms = append(doms, l.Domain)
		}
	}
	if n == 0 {
		return nil
	}
	if len(doms) > 0 {
		sort.Strings(doms)
		b.WriteString("search " + strings.Join(doms, " ") + "\n")
	}
	return []byte(b.String())
}
