package agent

import (
	"context"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/tinyboot/tinyboot/agent/coldplug"
	"github.com/tinyboot/tinyboot/agent/console"
	"github.com/tinyboot/tinyboot/agent/instance"
	"github.com/tinyboot/tinyboot/agent/sntp"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// Network is the configured network (*netconf.Manager in production).
type Network interface {
	// Links is how many links are configured (static or DHCP).
	Links() int
	// Bound is closed once the network is up: static links configured
	// and, with DHCP, the first lease in place.
	Bound() <-chan struct{}
	// NTPServers are the NTP servers the leases offer.
	NTPServers() []net.IP
	// Stop releases the leases.
	Stop()
}

// Deps is what Run needs from the outside world.
type Deps struct {
	Sys   System
	Log   *console.Logger
	Clock Clock
	// Events carries shutdown requests (power button, signals).
	Events <-chan Event
	// StartNetwork configures the links (static, DHCP); nil means no
	// network.
	StartNetwork func(ctx context.Context, hostname string) (Network, error)
	// SNTP asks the servers for the time.
	SNTP func(ctx context.Context, servers []string) (sntp.Result, error)
	// Hotplug lists devices and their uevents, for loading only the
	// modules the machine needs; nil loads only the modules no device
	// selects (see coldplug.Table.AtBoot).
	Hotplug *Hotplug
	// ModuleJobs is how many modules may load at once (the CPUs); below 2
	// means 2 (see moduleJobs).
	ModuleJobs int
	// AfterModules, when set, runs once the modules are loaded: devices
	// such as the watchdog exist from then on.
	AfterModules func()
	// GuestAgent, when set, answers the QEMU guest agent until ctx ends;
	// it runs in the background once the modules are loaded.
	GuestAgent func(ctx context.Context)
	// Instance, when set, reads this machine's own configuration (NoCloud
	// drive, fw_cfg) before the app starts.
	Instance func(ctx context.Context) (instance.Data, error)
	// SecureBoot reports the firmware's Secure Boot state, logged at
	// boot; nil logs nothing.
	SecureBoot func() string
	// NoISO says this boot has no ISO to search for: the kernel format's
	// command line carries baked.NoISOParam, so a
	// microVM does not wait out the ISO search for a medium it never has.
	NoISO bool
}

// hasParam reports whether the kernel command line cmdline holds param
// as one whole word.
func hasParam(cmdline, param string) bool {
	for _, w := range strings.Fields(cmdline) {
		if w == param {
			return true
		}
	}
	return false
}

// Periodic clock correction interval once the app runs.
const resyncInterval = 15 * time.Minute

// agent is one boot's state.
type agent struct {
	cfg    *baked.Config
	sys    System
	log    *console.Logger
	clock  Clock
	events <-chan Event
	deps   Deps

	// rootCtx outlives the background work: DHCP runs on it so leases
	// are released only after the disks are unmounted.
	rootCtx     context.Context
	net         Network
	isoMounted  bool
	persMounted bool
	// mods loads modules from the baked table, at boot and after.
	mods *coldplug.Loader
	// instanceEnv is the machine's own env, over app.env; held in memory
	// only.
	instanceEnv map[string]string

	bgCancel context.CancelFunc
	bgWG     sync.WaitGroup
}

// Run boots the machine described by cfg: modules, storage, network,
// clock, then the app until it should stop; then it shuts down and
// performs the final action through deps.Sys.Reboot. A panic anywhere in
// it is logged and ends in a clean reboot.
func Run(ctx context.Context, cfg *baked.Config, d Deps) {
	if d.Clock == nil {
		d.Clock = realClock{}
	}
	a := &agent{cfg: cfg, sys: d.Sys, log: d.Log, clock: d.Clock, events: d.Events, deps: d, rootCtx: ctx}
	bg, cancel := context.WithCancel(ctx)
	a.bgCancel = cancel
	defer a.stopBackground()
	defer func() {
		if r := recover(); r != nil {
			a.log.Printf("agent: panic: %v\n%s", r, debug.Stack())
			a.safeShutdown(Reboot)
		}
	}()
	act, ok := a.boot(bg)
	if ok {
		act = a.supervise()
	}
	a.shutdown(act)
}

// boot prepares everything up to starting the app. ok is false when the
// machine must stop instead (act says how).
func (a *agent) boot(ctx context.Context) (act Action, ok bool) {
	cfg := a.cfg
	start := a.clock.Now()
	if cfg.Hostname != "" {
		if err := a.sys.SetHostname(cfg.Hostname); err != nil {
			a.log.Printf("hostname: %v", err)
		}
	}
	a.setupEtc()

	a.mods = newModuleLoader(a.sys.LoadModule, cfg.KernelVersion, cfg.Modules, moduleJobs(a.deps.ModuleJobs))
	// The storage search runs alongside the modules: a disk whose driver
	// is in early is found, and its filesystem loaded and mounted, while
	// slower drivers still probe (a SATA controller resetting its links
	// for a third of a second under TCG, then the CD behind it). Its
	// waits count from when the modules are in.
	modsIn := make(chan struct{})
	storage := a.startStorage(modsIn)
	defer storage.abandon()

	t := a.clock.Now()
	a.coldplug(ctx)
	close(modsIn)
	modsDone := a.clock.Now()
	dMod := modsDone.Sub(t)
	// After the modules, so that their keys (net.ipv4.conf.eth0.*) exist;
	// before the network, so that DHCP already runs with them.
	a.applySysctl()
	if a.deps.AfterModules != nil {
		a.deps.AfterModules()
	}
	if a.deps.GuestAgent != nil {
		a.background(func() { a.deps.GuestAgent(ctx) })
	}
	// After the modules, so efivarfs is there when the image has it.
	if a.deps.SecureBoot != nil {
		a.log.Printf("secure boot: %s", a.deps.SecureBoot())
	}

	// DHCP runs while storage is searched: both mostly wait.
	netStart := a.clock.Now()
	// boundAt learns when the first lease came, so the boot line reports
	// DHCP's own time, not the storage wait it overlapped with.
	boundAt := make(chan time.Time, 1)
	if (cfg.Network.DHCP || len(cfg.Network.Interfaces) > 0) && a.deps.StartNetwork != nil {
		n, err := a.deps.StartNetwork(a.rootCtx, cfg.Hostname)
		if err != nil {
			a.log.Printf("network: %v", err)
		} else {
			a.net = n
			go func() {
				select {
				case <-n.Bound():
					boundAt <- a.clock.Now()
				case <-a.rootCtx.Done():
				}
			}()
		}
	}

	if !storage.wait() {
		return PowerOff, false
	}
	if strings.HasPrefix(cfg.App.Path, baked.ISOMount+"/") && !a.isoMounted {
		// app.run_from: iso; without the ISO there is nothing to run.
		a.log.Printf("app: %s is on the ISO (app.run_from: iso), and no ISO is mounted; powering off", cfg.App.Path)
		return PowerOff, false
	}
	// What storage still took once the modules were in: the search and
	// the mounts that ran beside them are not counted twice.
	dStor := a.clock.Now().Sub(modsDone)
	a.loadInstance(ctx)

	dNet := a.waitNetwork(netStart, boundAt)
	t = a.clock.Now()
	a.syncClock(ctx)
	dTime := a.clock.Now().Sub(t)

	a.log.Printf("boot: ready in %s (modules %s, storage %s, network %s, time %s)",
		console.Dur(a.clock.Now().Sub(start)), console.Dur(dMod), console.Dur(dStor), console.Dur(dNet), console.Dur(dTime))
	return Reboot, true
}

// moduleJobs is how many modules load at once: jobs (the CPUs), and at
// least two even on one CPU, since a driver's init mostly waits for its
// device (ahci's link resets, a CD's spin-up) and a filesystem's chain
// (btrfs's raid6 benchmark) should not queue behind it.
func moduleJobs(jobs int) int { return max(jobs, 2) }

// storageSearch is the storage search startStorage runs in the
// background.
type storageSearch struct {
	wg       sync.WaitGroup
	persOK   bool
	panicked chan any
	stop     chan struct{}
	stopOnce sync.Once
}

// startStorage searches for the ISO and the persistent volume in the
// background and mounts each as soon as it is settled. The search's
// waits start when modsIn is closed.
func (a *agent) startStorage(modsIn <-chan struct{}) *storageSearch {
	if a.deps.NoISO {
		a.log.Printf("iso: none on this boot (%s)", baked.NoISOParam)
	}
	s := &storageSearch{persOK: true, panicked: make(chan any, 3), stop: make(chan struct{})}
	s.goSafe(func() {
		findStorage(a.sys, a.clock, a.cfg, a.deps.NoISO, modsIn, s.stop, storageFound{
			iso:        func(res storageResult) { s.goSafe(func() { a.mountISO(res) }) },
			persistent: func(res storageResult) { s.goSafe(func() { s.persOK = a.mountPersistent(res) }) },
		})
	})
	return s
}

// goSafe runs fn in a goroutine the search waits for, keeping what it
// panics with for wait.
func (s *storageSearch) goSafe(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			if r := recover(); r != nil {
				s.panicked <- r
			}
		}()
		fn()
	}()
}

// wait waits for the search and both mounts and reports false when the
// machine must power off (a required volume missing or unusable). A panic
// in the search is raised again here, so Run's recovery applies.
func (s *storageSearch) wait() bool {
	s.wg.Wait()
	select {
	case r := <-s.panicked:
		panic(r)
	default:
	}
	return s.persOK
}

// abandon ends the search where it is and waits for mounts under way, so
// that a boot cut short (a panic) shuts down with nothing left mounting
// behind its back. After wait it does nothing.
func (s *storageSearch) abandon() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
}

// waitNetwork waits for the first lease, at most network.wait from when
// DHCP started, and returns the time spent since then.
func (a *agent) waitNetwork(since time.Time, boundAt <-chan time.Time) time.Duration {
	if a.net == nil {
		return 0
	}
	if a.net.Links() == 0 {
		// Without this line a machine booted without a NIC would look the
		// same on the console as one whose DHCP never started.
		a.log.Printf("network: no network interface")
		return 0
	}
	wait := a.cfg.Network.Wait.Std()
	left := wait - a.clock.Now().Sub(since)
	bound := func() time.Duration {
		select {
		case at := <-boundAt:
			return at.Sub(since)
		case <-a.rootCtx.Done():
			return a.clock.Now().Sub(since)
		}
	}
	select {
	case <-a.net.Bound():
		return bound()
	default:
	}
	if left > 0 {
		select {
		case <-a.net.Bound():
			return bound()
		case <-a.clock.After(left):
		}
	}
	a.log.Printf("network: no lease after %s; starting the app anyway", wait)
	return a.clock.Now().Sub(since)
}

// ntpServers are time.ntp plus the servers DHCP offered.
func (a *agent) ntpServers() []string {
	servers := append([]string(nil), a.cfg.Time.NTP...)
	if a.net != nil {
		for _, ip := range a.net.NTPServers() {
			servers = append(servers, ip.String())
		}
	}
	return servers
}

// syncClock steps the clock once, waiting at most time.wait, and then keeps
// it right in the background. With time.wait 0 the first sync runs in the
// background too.
func (a *agent) syncClock(ctx context.Context) {
	if a.deps.SNTP == nil || len(a.ntpServers()) == 0 {
		return
	}
	wait := a.cfg.Time.Wait.Std()
	first := func(ctx context.Context) {
		err := a.stepClock(ctx)
		switch {
		case err == nil || wait <= 0:
		case ctx.Err() != nil:
			a.log.Printf("time: no SNTP answer after %s", wait)
		default:
			// Failing early (no DNS, no route) is not waiting out time.wait:
			// say what failed.
			a.log.Printf("time: no SNTP answer (%v)", err)
		}
	}
	if wait > 0 {
		c, cancel := context.WithTimeout(ctx, wait)
		first(c)
		cancel()
	}
	a.background(func() {
		if wait <= 0 {
			c, cancel := context.WithTimeout(ctx, time.Minute)
			first(c)
			cancel()
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-a.clock.After(resyncInterval):
			}
			c, cancel := context.WithTimeout(ctx, 10*time.Second)
			a.stepClock(c)
			cancel()
		}
	})
}

// stepClock asks the servers once and steps the clock.
func (a *agent) stepClock(ctx context.Context) error {
	r, err := a.deps.SNTP(ctx, a.ntpServers())
	if err != nil {
		return err
	}
	if err := a.sys.StepClock(r.Offset); err != nil {
		a.log.Printf("time: step clock by %s: %v", signed(r.Offset), err)
		return nil // said already
	}
	host, _, err := net.SplitHostPort(r.Server)
	if err != nil {
		host = r.Server
	}
	a.log.Printf("time: stepped clock by %s (server %s)", signed(r.Offset), host)
	return nil
}

func signed(d time.Duration) string {
	d = d.Round(time.Millisecond)
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}

// background runs fn in a goroutine that stopBackground ends and waits
// for; a panic in it is logged, not fatal.
func (a *agent) background(fn func()) {
	a.bgWG.Add(1)
	go func() {
		defer a.bgWG.Done()
		defer a.recoverLog("background")
		fn()
	}()
}

func (a *agent) stopBackground() {
	if a.bgCancel != nil {
		a.bgCancel()
	}
	a.bgWG.Wait()
}

func (a *agent) recoverLog(what string) {
	if r := recover(); r != nil {
		a.log.Printf("agent: panic in %s: %v\n%s", what, r, debug.Stack())
	}
}

// safeShutdown is shutdown for the panic path: if shutdown itself panics,
// go straight to the final syscall.
func (a *agent) safeShutdown(act Action) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Printf("agent: panic during shutdown: %v", r)
			a.sys.Sync()
			_ = a.sys.Reboot(act)
		}
	}()
	a.shutdown(act)
}
