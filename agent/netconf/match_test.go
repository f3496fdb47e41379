package netconf

import (
	"slices"
	"testing"

	"github.com/tinyboot/tinyboot/spec/baked"
)

func TestMatch(t *testing.T) {
	eth0 := Link{Name: "eth0", MAC: "52:54:00:12:34:56"}
	eth1 := Link{Name: "eth1", MAC: "52:54:00:ab:cd:ef"}
	tests := []struct {
		name      string
		links     []Link
		ifaces    []baked.Interface
		config    []int
		unmatched []int
	}{
		{"nothing listed", []Link{eth0, eth1}, nil, []int{-1, -1}, nil},
		{"by name", []Link{eth0, eth1}, []baked.Interface{{Name: "eth1"}}, []int{-1, 0}, nil},
		{"by mac any case", []Link{eth0, eth1}, []baked.Interface{{MAC: "52:54:00:AB:CD:EF"}, {MAC: "52:54:00:12:34:56"}}, []int{1, 0}, nil},
		{"missing link", []Link{eth0}, []baked.Interface{{Name: "eth0"}, {Name: "eth2"}, {MAC: "52:54:00:00:00:01"}}, []int{0}, []int{1, 2}},
		{"first entry wins", []Link{eth0}, []baked.Interface{{MAC: "52:54:00:12:34:56"}, {Name: "eth0"}}, []int{0}, []int{1}},
		{"no links", nil, []baked.Interface{{Name: "eth0"}}, []int{}, []int{0}},
		{"an entry without key matches nothing", []Link{{Name: "eth0"}}, []baked.Interface{{}}, []int{-1}, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Match(tc.links, tc.ifaces)
			if !slices.Equal(p.Config, tc.config) || !slices.Equal(p.Unmatched, tc.unmatched) {
				t.Errorf("Match = config %v unmatched %v; want %v, %v", p.Config, p.Unmatched, tc.config, tc.unmatched)
			}
		})
	}
}

func TestParseStatic(t *testing.T) {
	ifc := baked.Interface{
		Name:      "eth0",
		Addresses: []string{"10.0.2.15/24", "fd00::15/64"},
		Gateway:   "10.0.2.2",
		Gateway6:  "fd00::2",
		DNS:       []string{"10.0.2.3"},
		MTU:       1400,
	}
	s, err := parseStatic(ifc)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.summary(), "10.0.2.15/24 fd00::15/64 via 10.0.2.2 fd00::2 dns 10.0.2.3 mtu 1400"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	if len(s.addrs) != 2 || s.addrs[0].IP.String() != "10.0.2.15" || s.addrs[1].IP.String() != "fd00::15" {
		t.Errorf("addrs = %v", s.addrs)
	}
	bad := []baked.Interface{
		{Name: "eth0", Addresses: []string{"10.0.2.15"}},
		{Name: "eth0", Gateway: "x"},
		{Name: "eth0", Gateway6: "10.0.2.2"},
		{Name: "eth0", DNS: []string{"ns"}},
	}
	for _, b := range bad {
		if _, err := parseStatic(b); err == nil {
			t.Errorf("parseStatic(%+v) accepted it", b)
		}
	}
	none, err := parseStatic(baked.Interface{Name: "eth0", DHCP: true})
	if err != nil || none.summary() != "no static addresses" {
		t.Errorf("empty static = %q, %v", none.summary(), err)
	}
}
