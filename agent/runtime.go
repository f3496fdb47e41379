package agent

import "github.com/tinyboot/tinyboot/spec/baked"

// usesDHCP reports whether DHCP runs on any link: by default or on a
// listed interface.
func usesDHCP(n baked.Network) bool {
	if n.DHCP {
		return true
	}
	for _, ifc := range n.Interfaces {
		if ifc.DHCP {
			return true
		}
	}
	return false
}
