package spec

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// network checks network.interfaces: addresses and gateways that parse
// and fit together, and no NIC matched twice.
func (c *checker) network() {
	seen := map[string]string{} // "name:eth0" or "mac:52:54:..." -> pointer of its first entry
	for i, ifc := range c.s.Network.Interfaces {
		ptr := "/network/interfaces/" + strconv.Itoa(i)
		key, field := "", ""
		switch {
		case ifc.Name != "" && ifc.MAC == "":
			key, field = "name:"+ifc.Name, "/name"
		case ifc.MAC != "" && ifc.Name == "":
			key, field = "mac:"+strings.ToLower(ifc.MAC), "/mac"
		}
		if key != "" {
			if prev, dup := seen[key]; dup {
				c.errorf(ptr+field, "merge the two entries into one", "%s is already configured by %s", strings.SplitN(key, ":", 2)[1], c.t.locate(prev).path)
			} else {
				seen[key] = ptr + field
			}
		}
		var v4, v6 []*net.IPNet
		for j, a := range ifc.Addresses {
			aptr := ptr + "/addresses/" + strconv.Itoa(j)
			ip, ipn, err := net.ParseCIDR(a)
			if err != nil {
				c.errorf(aptr, "write an address with its prefix length, such as 10.0.2.15/24 or fd00::15/64", "invalid address %q", a)
				continue
			}
			ipn.IP = ip // keep the host part: it is the address
			if ip.To4() != nil {
				v4 = append(v4, ipn)
			} else {
				v6 = append(v6, ipn)
			}
		}
		if ifc.Gateway != "" {
			c.gateway(ptr+"/gateway", ifc.Gateway, true, v4)
		}
		if ifc.Gateway6 != "" {
			c.gateway(ptr+"/gateway6", ifc.Gateway6, false, v6)
		}
		for j, d := range ifc.DNS {
			if net.ParseIP(d) == nil {
				c.errorf(ptr+"/dns/"+strconv.Itoa(j), "name servers are IP addresses, such as 10.0.2.3", "invalid name server %q", d)
			}
		}
		if ifc.DHCP != nil && !*ifc.DHCP && len(ifc.Addresses) == 0 && ifc.Gateway == "" && len(ifc.DNS) == 0 {
			c.warnf(ptr+"/dhcp", "add addresses, or remove the entry", "the interface gets no IPv4 address (dhcp is false and there are no addresses); only IPv6 autoconfiguration reaches it")
		}
	}
}

// gateway checks one default gateway: an address of the right family
// with an address of that family on the interface to route from.
func (c *checker) gateway(ptr, gw string, want4 bool, nets []*net.IPNet) {
	family, key, other := "IPv6", "gateway6", "gateway"
	if want4 {
		family, key, other = "IPv4", "gateway", "gateway6"
	}
	ip := net.ParseIP(gw)
	switch {
	case ip == nil:
		c.errorf(ptr, "", "invalid %s %q: want an %s address", key, gw, family)
		return
	case (ip.To4() != nil) != want4:
		c.errorf(ptr, fmt.Sprintf("put it in %s", other), "%s %s is not an %s address", key, gw, family)
		return
	case !want4 && ip.IsLinkLocalUnicast():
		return // reachable from the link-local address every IPv6 link has
	case len(nets) == 0:
		c.errorf(ptr, fmt.Sprintf("add an %s address to addresses", family), "%s %s needs an %s address on the interface, and addresses has none", key, gw, family)
		return
	}
	for _, n := range nets {
		if n.Contains(ip) {
			return
		}
	}
	c.warnf(ptr, "", "%s %s is on none of the interface's subnets; the kernel will refuse the route", key, gw)
}

// logging checks log.syslog's URL.
func (c *checker) logging() {
	if c.s.Log == nil || c.s.Log.Syslog == "" {
		return
	}
	if _, _, err := ParseSyslog(c.s.Log.Syslog); err != nil {
		c.errorf("/log/syslog", "use udp://host:port or tcp://host:port, such as udp://10.0.2.2:514", "%v", err)
	}
}

// ParseSyslog splits a log.syslog URL into its network ("udp" or "tcp")
// and host:port.
func ParseSyslog(s string) (network, addr string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("invalid syslog server %q", s)
	}
	if u.Scheme != "udp" && u.Scheme != "tcp" {
		return "", "", fmt.Errorf("syslog server %q: scheme %q is neither udp nor tcp", s, u.Scheme)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("syslog server %q: want only a host and a port", s)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return "", "", fmt.Errorf("syslog server %q has no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("syslog server %q: port %q is not a number from 1 to 65535 (syslog has no default in a URL)", s, port)
	}
	return u.Scheme, net.JoinHostPort(host, port), nil
}

// watchdog checks watchdog.timeout: the kernel's interface takes whole
// seconds.
func (c *checker) watchdog() {
	w := c.s.Watchdog
	if w == nil || !c.has("/watchdog/timeout") || w.Timeout == 0 {
		return
	}
	d := w.Timeout.Std()
	switch {
	case d < time.Second:
		c.errorf("/watchdog/timeout", "use at least 1s; 60s is the default", "watchdog timeout %s is under a second", d)
	case d%time.Second != 0:
		c.errorf("/watchdog/timeout", fmt.Sprintf("use %s", d.Round(time.Second)), "watchdog timeout %s is not a whole number of seconds", d)
	}
}
