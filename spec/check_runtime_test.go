package spec

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestParseRuntimeDiagnostics covers network.interfaces, log and watchdog.
func TestParseRuntimeDiagnostics(t *testing.T) {
	app := head + "app: {go: ./hello}\n"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"valid static", app + `network:
  dhcp: false
  interfaces:
    - name: eth0
      addresses: [10.0.2.15/24, "fd00::15/64"]
      gateway: 10.0.2.2
      gateway6: fd00::2
      dns: [10.0.2.3, "fd00::3"]
      mtu: 1500
    - mac: "52:54:00:12:34:56"
      dhcp: true
log: {syslog: "udp://10.0.2.2:5514"}
watchdog: {timeout: 30s}
`, nil},
		{"valid tcp syslog host name", app + "log: {syslog: \"tcp://logs.example.org:6514\"}\nwatchdog: {enabled: false}\n", nil},
		{"valid link-local gateway6", app + "network:\n  interfaces: [{name: eth0, gateway6: \"fe80::1\"}]\n", nil},
		{"bad CIDR", app + "network:\n  interfaces: [{name: eth0, addresses: [10.0.2.15, 10.0.2.300/24]}]\n", []string{
			`5:41: network.interfaces[0].addresses[0]: invalid address "10.0.2.15"`,
			`5:52: network.interfaces[0].addresses[1]: invalid address "10.0.2.300/24"`,
		}},
		{"neither name nor mac", app + "network:\n  interfaces: [{addresses: [10.0.2.15/24]}]\n", []string{
			"5:16: network.interfaces[0]: set exactly one of name, mac",
		}},
		{"name and mac", app + "network:\n  interfaces: [{name: eth0, mac: \"52:54:00:12:34:56\"}]\n", []string{
			"5:16: network.interfaces[0]: set exactly one of name, mac",
		}},
		{"bad mac", app + "network:\n  interfaces: [{mac: 52-54-00-12-34-56}]\n", []string{
			`5:22: network.interfaces[0].mac: invalid MAC address "52-54-00-12-34-56"`,
		}},
		{"duplicate name", app + "network:\n  interfaces:\n    - {name: eth0, dhcp: true}\n    - {name: eth0, addresses: [10.0.2.15/24]}\n", []string{
			"7:14: network.interfaces[1].name: eth0 is already configured by network.interfaces[0].name",
		}},
		{"duplicate mac any case", app + "network:\n  interfaces:\n    - {mac: \"52:54:00:ab:cd:ef\"}\n    - {mac: \"52:54:00:AB:CD:EF\"}\n", []string{
			"7:13: network.interfaces[1].mac: 52:54:00:ab:cd:ef is already configured by network.interfaces[0].mac",
		}},
		{"gateway without IPv4 address", app + "network:\n  interfaces: [{name: eth0, addresses: [\"fd00::15/64\"], gateway: 10.0.2.2}]\n", []string{
			"5:66: network.interfaces[0].gateway: gateway 10.0.2.2 needs an IPv4 address on the interface, and addresses has none",
		}},
		{"gateway6 without IPv6 address", app + "network:\n  interfaces: [{name: eth0, addresses: [10.0.2.15/24], gateway6: \"fd00::2\"}]\n", []string{
			"5:66: network.interfaces[0].gateway6: gateway6 fd00::2 needs an IPv6 address on the interface, and addresses has none",
		}},
		{"gateway of the wrong family", app + "network:\n  interfaces: [{name: eth0, addresses: [10.0.2.15/24], gateway: \"fd00::2\"}]\n", []string{
			"5:65: network.interfaces[0].gateway: gateway fd00::2 is not an IPv4 address",
		}},
		{"gateway off the subnet", app + "network:\n  interfaces: [{name: eth0, addresses: [10.0.2.15/24], gateway: 10.0.3.1}]\n", []string{
			"5:65: warning: network.interfaces[0].gateway: gateway 10.0.3.1 is on none of the interface's subnets; the kernel will refuse the route",
		}},
		{"bad gateway and dns", app + "network:\n  interfaces: [{name: eth0, addresses: [10.0.2.15/24], gateway: router, dns: [dns.example.org]}]\n", []string{
			`5:65: network.interfaces[0].gateway: invalid gateway "router": want an IPv4 address`,
			`5:79: network.interfaces[0].dns[0]: invalid name server "dns.example.org"`,
		}},
		{"mtu out of range", app + "network:\n  interfaces: [{name: eth0, mtu: 40}]\n", []string{
			"5:34: network.interfaces[0].mtu: 40 is below the minimum, 68",
		}},
		{"nothing configured", app + "network:\n  interfaces: [{name: eth0, dhcp: false}]\n", []string{
			"5:35: warning: network.interfaces[0].dhcp: the interface gets no IPv4 address (dhcp is false and there are no addresses); only IPv6 autoconfiguration reaches it",
		}},
		{"syslog scheme", app + "log: {syslog: \"http://10.0.2.2:514\"}\n", []string{
			`4:15: log.syslog: invalid syslog server "http://10.0.2.2:514"`,
		}},
		{"syslog without port", app + "log: {syslog: \"udp://10.0.2.2\"}\n", []string{
			`4:15: log.syslog: syslog server "udp://10.0.2.2": port "" is not a number from 1 to 65535 (syslog has no default in a URL)`,
		}},
		{"syslog with path", app + "log: {syslog: \"tcp://10.0.2.2:514/x\"}\n", []string{
			`4:15: log.syslog: syslog server "tcp://10.0.2.2:514/x": want only a host and a port`,
		}},
		{"syslog without host", app + "log: {syslog: \"udp://:514\"}\n", []string{
			`4:15: log.syslog: syslog server "udp://:514" has no host`,
		}},
		{"watchdog under a second", app + "watchdog: {timeout: 500ms}\n", []string{
			"4:21: watchdog.timeout: watchdog timeout 500ms is under a second",
		}},
		{"watchdog fractional", app + "watchdog: {timeout: 1500ms}\n", []string{
			"4:21: watchdog.timeout: watchdog timeout 1.5s is not a whole number of seconds",
		}},
		{"watchdog zero", app + "watchdog: {timeout: \"0\"}\n", []string{
			"4:21: warning: watchdog.timeout: 0 means the default",
		}},
		{"ntp with static only is fine", app + "network:\n  dhcp: false\n  interfaces: [{name: eth0, addresses: [10.0.2.15/24]}]\ntime: {ntp: [10.0.2.2]}\n", nil},
	}
	dir := fixture(t)
	file := filepath.Join(dir, "tinyboot.yaml")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse(file, []byte(tc.yaml))
			got := brief(diags)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("diagnostics:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestParseSyslog(t *testing.T) {
	tests := []struct {
		in, network, addr string
		ok                bool
	}{
		{"udp://10.0.2.2:514", "udp", "10.0.2.2:514", true},
		{"tcp://[fd00::2]:6514", "tcp", "[fd00::2]:6514", true},
		{"tcp://logs.example.org:601/", "tcp", "logs.example.org:601", true},
		{"udp://10.0.2.2:0", "", "", false},
		{"udp://10.0.2.2:99999", "", "", false},
		{"tls://10.0.2.2:6514", "", "", false},
		{"udp://u@10.0.2.2:514", "", "", false},
		{"10.0.2.2:514", "", "", false},
	}
	for _, tc := range tests {
		n, a, err := ParseSyslog(tc.in)
		if (err == nil) != tc.ok || n != tc.network || a != tc.addr {
			t.Errorf("ParseSyslog(%q) = %q, %q, %v; want %q, %q, ok %v", tc.in, n, a, err, tc.network, tc.addr, tc.ok)
		}
	}
}
