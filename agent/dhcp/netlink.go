package dhcp

import (
	"errors"
	"fmt"
	"os"

	"github.com/vishvananda/netlink"
)

// routeMetricBase keeps the default routes of several links apart: each
// gets base+ifindex, so leases on two NICs add two routes instead of
// replacing each other.
const routeMetricBase = 100

// netlinkConfig applies leases to one link.
type netlinkConfig struct {
	link netlink.Link
	logf func(string, ...any)
	// keepMTU ignores leased MTUs: the link's was configured by hand.
	keepMTU bool
}

func (n *netlinkConfig) Apply(l *Lease) error {
	attrs := n.link.Attrs()
	if !n.keepMTU && l.MTU > 0 && l.MTU != attrs.MTU {
		if err := netlink.LinkSetMTU(n.link, l.MTU); err != nil {
			// A wrong MTU degrades but does not break the link.
			n.logf("network: %s: set mtu %d: %v", attrs.Name, l.MTU, err)
		} else {
			attrs.MTU = l.MTU
			n.logf("network: %s: mtu %d", attrs.Name, l.MTU)
		}
	}
	addr := &netlink.Addr{IPNet: &l.Addr}
	if err := netlink.AddrReplace(n.link, addr); err != nil {
		return fmt.Errorf("add address: %w", err)
	}
	if l.Router != nil {
		r := n.route(l)
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("default route via %s: %w", l.Router, err)
		}
	}
	return nil
}

func (n *netlinkConfig) Remove(l *Lease) error {
	var errs []error
	if l.Router != nil {
		if err := netlink.RouteDel(n.route(l)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("delete default route: %w", err))
		}
	}
	if err := netlink.AddrDel(n.link, &netlink.Addr{IPNet: &l.Addr}); err != nil {
		errs = append(errs, fmt.Errorf("delete address: %w", err))
	}
	return errors.Join(errs...)
}

func (n *netlinkConfig) route(l *Lease) *netlink.Route {
	return &netlink.Route{
		LinkIndex: n.link.Attrs().Index,
		Gw:        l.Router,
		Priority:  routeMetricBase + n.link.Attrs().Index,
	}
}
