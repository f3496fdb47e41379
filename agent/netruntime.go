package agent

import (
	"errors"
	"os"
	"sync"

	"github.com/tinyboot/tinyboot/agent/console"
	"github.com/tinyboot/tinyboot/agent/watchdog"
	"github.com/tinyboot/tinyboot/spec/baked"
)

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

// watchdogKeeper arms the hardware watchdog once the modules are loaded
// and disarms it before the final reboot(2).
type watchdogKeeper struct {
	mu  sync.Mutex
	dev *watchdog.Device
}

// arm opens /dev/watchdog as cfg says; a machine without one is silent.
func (w *watchdogKeeper) arm(cfg baked.Watchdog, log *console.Logger) {
	if !cfg.Enabled {
		return
	}
	d, err := watchdog.Open(watchdog.Path, cfg.Timeout.Std())
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if d == nil {
		log.Printf("watchdog: %v", err)
		return
	}
	if err != nil {
		log.Printf("watchdog: %v; keeping the driver's timeout", err)
	}
	w.mu.Lock()
	w.dev = d
	w.mu.Unlock()
	log.Printf("watchdog: armed %s (%s, timeout %s)", watchdog.Path, d.Identity, d.Timeout)
}

// disarm is the magic close; the machine is about to stop on purpose.
func (w *watchdogKeeper) disarm(log *console.Logger) {
	w.mu.Lock()
	d := w.dev
	w.dev = nil
	w.mu.Unlock()
	if d == nil {
		return
	}
	if err := d.Disarm(); err != nil {
		log.Printf("watchdog: disarm: %v", err)
		return
	}
	log.Printf("watchdog: disarmed")
}

// finalSystem is the Linux system whose Reboot first sends the last
// syslog lines and disarms the watchdog.
type finalSystem struct {
	*Linux
	log      *console.Logger
	remote   *remoteLog
	watchdog *watchdogKeeper
}

// Reboot performs act after the last lines went out and the watchdog
// was disarmed.
func (s *finalSystem) Reboot(act Action) error {
	s.watchdog.disarm(s.log)
	s.remote.flush()
	return s.Linux.Reboot(act)
}
