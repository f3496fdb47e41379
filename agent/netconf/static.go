package netconf

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/tinyboot/tinyboot/spec/baked"
	"github.com/vishvananda/netlink"
)

// routeMetricBase matches package dhcp's: each link's default routes get
// base+ifindex, so two NICs add two routes instead of replacing each other.
const routeMetricBase = 100

// static is an interface entry's hand-made configuration, parsed.
type static struct {
	addrs    []*net.IPNet // IP is the address itself, not the network
	gateway  net.IP
	gateway6 net.IP
	dns      []net.IP
	mtu      int
}

// parseStatic parses what validation already checked; the errors are
// for a baked spec that did not go through it.
func parseStatic(ifc baked.Interface) (*static, error) {
	s := &static{mtu: ifc.MTU}
	for _, a := range ifc.Addresses {
		ip, ipn, err := net.ParseCIDR(a)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", a, err)
		}
		ipn.IP = ip
		if v4 := ip.To4(); v4 != nil {
			ipn.IP = v4
		}
		s.addrs = append(s.addrs, ipn)
	}
	var err error
	if s.gateway, err = parseIP(ifc.Gateway, true); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if s.gateway6, err = parseIP(ifc.Gateway6, false); err != nil {
		return nil, fmt.Errorf("gateway6: %w", err)
	}
	for _, d := range ifc.DNS {
		ip := net.ParseIP(d)
		if ip == nil {
			return nil, fmt.Errorf("name server %q is not an IP address", d)
		}
		s.dns = append(s.dns, ip)
	}
	return s, nil
}

func parseIP(s string, v4 bool) (net.IP, error) {
	if s == "" {
		return nil, nil
	}
	ip := net.ParseIP(s)
	if ip == nil || (ip.To4() != nil) != v4 {
		return nil, fmt.Errorf("%q is not an IPv%s address", s, map[bool]string{true: "4", false: "6"}[v4])
	}
	return ip, nil
}

// summary is the console form:
// "10.0.2.15/24 fd00::15/64 via 10.0.2.2 fd00::2 dns 10.0.2.3 mtu 1400".
func (s *static) summary() string {
	var parts []string
	for _, a := range s.addrs {
		parts = append(parts, a.String())
	}
	if len(parts) == 0 {
		parts = append(parts, "no static addresses")
	}
	var via []string
	for _, g := range []net.IP{s.gateway, s.gateway6} {
		if g != nil {
			via = append(via, g.String())
		}
	}
	if len(via) > 0 {
		parts = append(parts, "via", strings.Join(via, " "))
	}
	if len(s.dns) > 0 {
		var d []string
		for _, ip := range s.dns {
			d = append(d, ip.String())
		}
		parts = append(parts, "dns", strings.Join(d, ","))
	}
	if s.mtu > 0 {
		parts = append(parts, "mtu", strconv.Itoa(s.mtu))
	}
	return strings.Join(parts, " ")
}

// apply configures link: MTU, up, addresses, default routes. Every step
// is tried; the errors are joined.
func (s *static) apply(link netlink.Link) error {
	var errs []error
	if s.mtu > 0 && s.mtu != link.Attrs().MTU {
		if err := netlink.LinkSetMTU(link, s.mtu); err != nil {
			errs = append(errs, fmt.Errorf("set mtu %d: %w", s.mtu, err))
		}
	}
	// Up before the addresses: IPv6 addresses and router advertisements
	// need a running link, and routes need their subnet's.
	if err := netlink.LinkSetUp(link); err != nil {
		return errors.Join(append(errs, fmt.Errorf("link up: %w", err))...)
	}
	for _, a := range s.addrs {
		if err := netlink.AddrReplace(link, &netlink.Addr{IPNet: a}); err != nil {
			errs = append(errs, fmt.Errorf("add address %s: %w", a, err))
		}
	}
	prio := routeMetricBase + link.Attrs().Index
	if s.gateway != nil {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: s.gateway, Priority: prio,
			Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}}
		if err := netlink.RouteReplace(r); err != nil {
			errs = append(errs, fmt.Errorf("default route via %s: %w", s.gateway, err))
		}
	}
	if s.gateway6 != nil {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: s.gateway6, Priority: prio,
			Dst: &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}}
		if err := netlink.RouteReplace(r); err != nil {
			errs = append(errs, fmt.Errorf("default route via %s: %w", s.gateway6, err))
		}
	}
	return errors.Join(errs...)
}
