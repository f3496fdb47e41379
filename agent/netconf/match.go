// Package netconf configures the machine's NICs as network.interfaces and
// network.dhcp say: static addresses, routes, MTU and name servers applied
// with netlink, DHCP (package dhcp) where asked, nothing elsewhere.
package netconf

import (
	"fmt"
	"strings"

	"github.com/tinyboot/tinyboot/spec/baked"
)

// Link is what matching needs to know of a NIC.
type Link struct {
	Name string
	// MAC is lowercase and colon-separated, as net.HardwareAddr prints.
	MAC string
}

// Plan says what to do with each NIC.
type Plan struct {
	// Config[i] is the index in the interfaces list of the entry for
	// links[i], or -1 when none matches it.
	Config []int
	// Unmatched are the entries that match no link.
	Unmatched []int
}

// Match pairs links with interface entries: an entry matches the link with
// its name or MAC, and each link takes the first entry that matches it.
// An entry whose link was already taken by an earlier one is unmatched.
func Match(links []Link, ifaces []baked.Interface) Plan {
	p := Plan{Config: make([]int, len(links))}
	taken := make([]bool, len(ifaces))
	for i, l := range links {
		p.Config[i] = -1
		for j, ifc := range ifaces {
			if taken[j] || !matches(ifc, l) {
				continue
			}
			p.Config[i] = j
			taken[j] = true
			break
		}
	}
	for j := range ifaces {
		if !taken[j] {
			p.Unmatched = append(p.Unmatched, j)
		}
	}
	return p
}

func matches(ifc baked.Interface, l Link) bool {
	if ifc.Name != "" {
		return ifc.Name == l.Name
	}
	return ifc.MAC != "" && strings.EqualFold(ifc.MAC, l.MAC)
}

// describe names an entry for the console: "network.interfaces[1] (eth2)".
func describe(j int, ifc baked.Interface) string {
	key := ifc.Name
	if key == "" {
		key = ifc.MAC
	}
	return fmt.Sprintf("network.interfaces[%d] (%s)", j, key)
}
