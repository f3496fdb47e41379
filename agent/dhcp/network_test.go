package dhcp

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestManagerResolvConf checks that name servers set by hand are written
// at once and stay ahead of leased ones.
func TestManagerResolvConf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	m := &Manager{logf: t.Logf, bound: make(chan struct{}), leases: map[string]*Lease{}, resolvAt: path,
		static: []net.IP{net.ParseIP("10.0.2.3"), net.ParseIP("fd00::3")}}
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	m.changed("", nil)
	if got, want := read(), "nameserver 10.0.2.3\nnameserver fd00::3\n"; got != want {
		t.Errorf("static only:\n%q\nwant\n%q", got, want)
	}
	select {
	case <-m.Bound():
		t.Error("bound without a lease")
	default:
	}
	m.changed("eth1", &Lease{DNS: []net.IP{net.ParseIP("192.168.1.1"), net.ParseIP("10.0.2.3")}, Domain: "lan"})
	if got, want := read(), "nameserver 10.0.2.3\nnameserver fd00::3\nnameserver 192.168.1.1\nsearch lan\n"; got != want {
		t.Errorf("static and leased:\n%q\nwant\n%q", got, want)
	}
	select {
	case <-m.Bound():
	default:
		t.Error("not bound after a lease")
	}
}
