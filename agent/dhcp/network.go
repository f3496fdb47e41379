package dhcp

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tinyboot/tinyboot/agent/clock"
)

// ResolvConfPath is where DNS servers from leases are written.
const ResolvConfPath = "/etc/resolv.conf"

// Manager keeps leases on the links it was started on.
type Manager struct {
	logf     func(string, ...any)
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	bound    chan struct{}
	once     sync.Once
	mu       sync.Mutex
	leases   map[string]*Lease
	resolv   []byte
	nlinks   int
	resolvAt string
	// static are the name servers configured by hand.
	static []net.IP
}

// Options say where DHCP runs and what else goes into resolv.conf.
type Options struct {
	Hostname string
	// Links are the links to run DHCP on.
	Links []Link
	// DNS are name servers configured by hand: resolv.conf lists them
	// before the leased ones, and is written at once when there are any.
	DNS []net.IP
}

// Link is one link to run DHCP on.
type Link struct {
	Link netlink.Link
	// KeepMTU ignores the lease's MTU: the link's was set by hand.
	KeepMTU bool
}

// Start brings the links up and runs a Keeper on each. It returns at
// once; Bound says when the first lease is in place.
func Start(ctx context.Context, opts Options, logf func(string, ...any)) (*Manager, error) {
	// dhcpv4 draws transaction ids from u-root's getrandom reader, which
	// spins until the kernel's CRNG is ready — at early boot in a VM
	// without an RNG that is tens of seconds, or never under TCG. The
	// boot's first exchange builds its messages without it (newMessage);
	// for renewals and the release this switches that reader to
	// /dev/urandom, which since Linux 5.18 waits at most for the kernel
	// to gather entropy from its clock (about a second under TCG) and
	// is ready long before a renewal is due.
	if err := os.Setenv("UROOT_NOHWRNG", "1"); err != nil {
		return nil, fmt.Errorf("dhcp: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &Manager{logf: logf, cancel: cancel, bound: make(chan struct{}), leases: map[string]*Lease{}, resolvAt: ResolvConfPath, static: opts.DNS}
	if len(opts.DNS) > 0 {
		m.changed("", nil)
	}
	for _, l := range opts.Links {
		link := l.Link
		a := link.Attrs()
		if err := netlink.LinkSetUp(link); err != nil {
			logf("network: %s: link up: %v", a.Name, err)
			continue
		}
		c, err := Dial(a.Name, opts.Hostname)
		if err != nil {
			logf("network: %s: %v", a.Name, err)
			continue
		}
		m.nlinks++
		k := &Keeper{
			Name:     a.Name,
			Client:   c,
			Config:   &netlinkConfig{link: link, logf: logf, keepMTU: l.KeepMTU},
			Clock:    clock.Real{},
			Logf:     logf,
			OnChange: func(l *Lease) { m.changed(a.Name, l) },
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			defer c.Close()
			defer func() {
				if r := recover(); r != nil {
					logf("network: %s: panic: %v", a.Name, r)
				}
			}()
			waitCarrier(ctx, a.Index)
			k.Run(ctx)
		}()
	}
	return m, nil
}

// Carrier wait: a DISCOVER sent before the link has its carrier is lost
// and costs a whole attempt timeout, the larger part of DHCP's time at
// boot; so each keeper first waits for the carrier, briefly.
const (
	carrierWait = 2 * time.Second
	carrierPoll = 5 * time.Millisecond
)

// waitCarrier returns once the link with index has its carrier, ctx
// ends, or carrierWait has passed: DHCP then tries anyway, since some
// drivers never report a carrier. The carrier is IFF_LOWER_UP, which the
// kernel sets as the driver reports it, not IFF_RUNNING: that one follows
// the operational state, which the kernel's link watcher updates up to a
// second later (it batches events for links that were not yet up), while
// a link brought up with its carrier already sends at once.
func waitCarrier(ctx context.Context, index int) {
	deadline := time.Now().Add(carrierWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		l, err := netlink.LinkByIndex(index)
		if err != nil || l.Attrs().RawFlags&unix.IFF_LOWER_UP != 0 {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(carrierPoll):
		}
	}
}

// Links is how many links DHCP runs on.
func (m *Manager) Links() int { return m.nlinks }

// Bound is closed when the first lease is applied.
func (m *Manager) Bound() <-chan struct{} { return m.bound }

// NTPServers are the NTP servers the current leases offer.
func (m *Manager) NTPServers() []net.IP {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ips []net.IP
	for _, name := range sortedKeys(m.leases) {
		ips = append(ips, m.leases[name].NTP...)
	}
	return ips
}

// Stop releases all leases and waits for the keepers to end.
func (m *Manager) Stop() {
	m.cancel()
	m.wg.Wait()
}

func (m *Manager) changed(name string, l *Lease) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case name == "":
		// Only the static servers: nothing leased yet.
	case l == nil:
		delete(m.leases, name)
	default:
		m.leases[name] = l
		m.once.Do(func() { close(m.bound) })
	}
	var ls []*Lease
	if len(m.static) > 0 {
		ls = append(ls, &Lease{DNS: m.static})
	}
	for _, n := range sortedKeys(m.leases) {
		ls = append(ls, m.leases[n])
	}
	conf := ResolvConf(ls)
	if conf == nil || bytes.Equal(conf, m.resolv) {
		return
	}
	if err := writeAtomic(m.resolvAt, conf); err != nil {
		m.logf("network: %v", err)
		return
	}
	m.resolv = conf
}

func sortedKeys(m map[string]*Lease) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeAtomic replaces path so readers never see half a file.
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
