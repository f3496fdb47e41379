package netconf

import (
	"context"
	"fmt"
	"net"
	"sort"

	"github.com/tinyboot/tinyboot/agent/dhcp"
	"github.com/tinyboot/tinyboot/spec/baked"
	"github.com/vishvananda/netlink"
)

// Manager is the configured network: the static links, set up once, and
// DHCP on the others that want it.
type Manager struct {
	dhcp    *dhcp.Manager
	nstatic int
	bound   chan struct{}
}

// Start configures every non-loopback NIC as cfg says and returns at
// once; Bound says when the network is up. It logs one line per NIC.
func Start(ctx context.Context, cfg baked.Network, hostname string, logf func(string, ...any)) (*Manager, error) {
	all, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var links []netlink.Link
	for _, l := range all {
		if l.Attrs().Flags&net.FlagLoopback == 0 && l.Type() == "device" {
			links = append(links, l)
		}
	}
	sort.Slice(links, func(i, j int) bool { return links[i].Attrs().Name < links[j].Attrs().Name })
	keys := make([]Link, len(links))
	for i, l := range links {
		keys[i] = Link{Name: l.Attrs().Name, MAC: l.Attrs().HardwareAddr.String()}
	}
	plan := Match(keys, cfg.Interfaces)
	for _, j := range plan.Unmatched {
		logf("network: %s matches no interface", describe(j, cfg.Interfaces[j]))
	}
	m := &Manager{bound: make(chan struct{})}
	var dhcpLinks []dhcp.Link
	var dns []net.IP
	for i, link := range links {
		name := link.Attrs().Name
		j := plan.Config[i]
		if j < 0 {
			if cfg.DHCP {
				dhcpLinks = append(dhcpLinks, dhcp.Link{Link: link})
			} else {
				logf("network: %s: not configured (network.dhcp is false)", name)
			}
			continue
		}
		ifc := cfg.Interfaces[j]
		s, err := parseStatic(ifc)
		if err != nil {
			logf("network: %s: %s: %v", name, describe(j, ifc), err)
			continue
		}
		if len(s.addrs) > 0 || s.mtu > 0 || !ifc.DHCP {
			if err := s.apply(link); err != nil {
				logf("network: %s: static %s: %v", name, s.summary(), err)
			} else {
				logf("network: %s: static %s", name, s.summary())
			}
			m.nstatic++
		}
		dns = append(dns, s.dns...)
		if ifc.DHCP {
			dhcpLinks = append(dhcpLinks, dhcp.Link{Link: link, KeepMTU: s.mtu > 0})
		}
	}
	// Always started, even without DHCP links: it writes resolv.conf.
	d, err := dhcp.Start(ctx, dhcp.Options{Hostname: hostname, Links: dhcpLinks, DNS: dns}, logf)
	if err != nil {
		return nil, err
	}
	m.dhcp = d
	go func() {
		if d.Links() > 0 {
			select {
			case <-d.Bound():
			case <-ctx.Done():
				return
			}
		}
		close(m.bound)
	}()
	return m, nil
}

// Links is how many links are configured, statically or by DHCP.
func (m *Manager) Links() int { return m.nstatic + m.dhcp.Links() }

// Bound is closed once the static links are set up and, when DHCP runs,
// the first lease is in place.
func (m *Manager) Bound() <-chan struct{} { return m.bound }

// NTPServers are the NTP servers the leases offer.
func (m *Manager) NTPServers() []net.IP { return m.dhcp.NTPServers() }

// Stop releases the DHCP leases; static addresses stay.
func (m *Manager) Stop() { m.dhcp.Stop() }
