package dhcp

import (
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ack(t *testing.T, opts ...dhcpv4.Option) *dhcpv4.DHCPv4 {
	t.Helper()
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.IPv4(10, 0, 2, 15)),
	}
	for _, o := range opts {
		mods = append(mods, dhcpv4.WithOption(o))
	}
	m, err := dhcpv4.New(mods...)
	if err != nil {
		t.Fatal(err)
	}
	// Round-trip through the wire format as a real ACK would.
	m, err = dhcpv4.FromBytes(m.ToBytes())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFromACK(t *testing.T) {
	l, err := FromACK(ack(t,
		dhcpv4.OptSubnetMask(net.CIDRMask(24, 32)),
		dhcpv4.OptRouter(net.IPv4(10, 0, 2, 2)),
		dhcpv4.OptDNS(net.IPv4(10, 0, 2, 3)),
		dhcpv4.OptNTPServers(net.IPv4(10, 0, 2, 4)),
		dhcpv4.OptIPAddressLeaseTime(24*time.Hour),
		dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 2, 2)),
		dhcpv4.OptGeneric(dhcpv4.OptionInterfaceMTU, []byte{0x05, 0xdc}),
	), t0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Summary(), "10.0.2.15/24 via 10.0.2.2 dns 10.0.2.3 (lease 24h0m0s)"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	if l.MTU != 1500 || len(l.NTP) != 1 || !l.NTP[0].Equal(net.IPv4(10, 0, 2, 4)) {
		t.Errorf("mtu %d ntp %v", l.MTU, l.NTP)
	}
	if l.Renew() != t0.Add(12*time.Hour) || l.Rebind() != t0.Add(21*time.Hour) || l.Expiry() != t0.Add(24*time.Hour) {
		t.Errorf("deadlines %v %v %v", l.Renew(), l.Rebind(), l.Expiry())
	}

	// No mask, no lease time, no router: class default mask and one hour.
	l, err = FromACK(ack(t), t0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Summary(), "10.0.2.15/8 (lease 1h0m0s)"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	l, err = FromACK(ack(t, dhcpv4.OptIPAddressLeaseTime(infinite)), t0)
	if err != nil || !l.Infinite() {
		t.Errorf("infinite lease: %+v %v", l, err)
	}
	bad, _ := dhcpv4.New()
	if _, err := FromACK(bad, t0); err == nil {
		t.Error("ACK without address: no error")
	}
}

func TestTimers(t *testing.T) {
	h := time.Hour
	tests := []struct {
		d, t1, t2, w1, w2 time.Duration
	}{
		{8 * h, 0, 0, 4 * h, 7 * h},         // defaults
		{8 * h, 2 * h, 3 * h, 2 * h, 3 * h}, // server's values
		{8 * h, 5 * h, 3 * h, 3 * h, 3 * h}, // T1 after T2: d/2 is past T2 too, so T1 = T2
		{8 * h, 0, 9 * h, 4 * h, 7 * h},     // T2 past expiry
		{8 * h, 8 * h, 0, 4 * h, 7 * h},     // T1 at expiry
		{10 * time.Second, 0, 0, 5 * time.Second, 8750 * time.Millisecond},
	}
	for _, tt := range tests {
		t1, t2 := timers(tt.d, tt.t1, tt.t2)
		if t1 != tt.w1 || t2 != tt.w2 {
			t.Errorf("timers(%v,%v,%v) = %v,%v; want %v,%v", tt.d, tt.t1, tt.t2, t1, t2, tt.w1, tt.w2)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		left, want time.Duration
	}{
		{10 * time.Hour, 5 * time.Hour},
		{100 * time.Second, 60 * time.Second}, // at least a minute
		{30 * time.Second, 30 * time.Second},  // never past the deadline
		{0, 0},
		{-time.Second, 0},
	}
	for _, tt := range tests {
		if got := retryDelay(t0, t0.Add(tt.left)); got != tt.want {
			t.Errorf("retryDelay(left %v) = %v, want %v", tt.left, got, tt.want)
		}
	}
}

func TestResolvConf(t *testing.T) {
	ip := net.ParseIP
	a := &Lease{DNS: []net.IP{ip("10.0.2.3"), ip("10.0.2.4")}, Domain: "example.com"}
	b := &Lease{DNS: []net.IP{ip("10.0.2.3"), ip("192.168.1.1"), ip("192.168.1.2")}, Domain: "lan"}
	tests := []struct {
		name   string
		leases []*Lease
		want   string
	}{
		{"none", nil, ""},
		{"no dns", []*Lease{{}}, ""},
		{"one", []*Lease{a}, "nameserver 10.0.2.3\nnameserver 10.0.2.4\nsearch example.com\n"},
		{"merged, deduplicated, max three", []*Lease{a, b}, "nameserver 10.0.2.3\nnameserver 10.0.2.4\nnameserver 192.168.1.1\nsearch example.com lan\n"},
	}
	for _, tt := range tests {
		if got := string(ResolvConf(tt.leases)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
