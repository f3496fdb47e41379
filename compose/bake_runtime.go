package compose

import (
	"strings"

	"github.com/tinyboot/tinyboot/spec"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// bakeNetRuntime fills in the baked network interfaces, remote log and
// watchdog from the spec, whose checks have already vouched for them.
func bakeNetRuntime(c *baked.Config, s *spec.Spec) {
	for _, ifc := range s.Network.Interfaces {
		dhcp := len(ifc.Addresses) == 0
		if ifc.DHCP != nil {
			dhcp = *ifc.DHCP
		}
		c.Network.Interfaces = append(c.Network.Interfaces, baked.Interface{
			Name:      ifc.Name,
			MAC:       strings.ToLower(ifc.MAC),
			DHCP:      dhcp,
			Addresses: ifc.Addresses,
			Gateway:   ifc.Gateway,
			Gateway6:  ifc.Gateway6,
			DNS:       ifc.DNS,
			MTU:       ifc.MTU,
		})
	}
	if s.Log != nil && s.Log.Syslog != "" {
		// Parse has checked the URL; a value that fails here came from a
		// caller that skipped it, and remote logging is then left off.
		if network, addr, err := spec.ParseSyslog(s.Log.Syslog); err == nil {
			c.Log = baked.Log{SyslogNetwork: network, SyslogAddr: addr}
		}
	}
	c.Watchdog = baked.Watchdog{Enabled: true, Timeout: baked.Duration(spec.DefaultWatchdog)}
	if w := s.Watchdog; w != nil {
		if w.Enabled != nil {
			c.Watchdog.Enabled = *w.Enabled
		}
		if w.Timeout != 0 {
			c.Watchdog.Timeout = baked.Duration(w.Timeout)
		}
	}
}
