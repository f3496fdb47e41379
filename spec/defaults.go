package spec

import (
	"path/filepath"
	"slices"
)

// ApplyDefaults fills in every optional setting the spec leaves unset, so
// that the composer reads one fully specified value. A nil Persistent
// stays nil: no volume is a choice, not a missing default.
func (s *Spec) ApplyDefaults() {
	if s.App.StopTimeout == 0 {
		s.App.StopTimeout = DefaultStopTimeout
	}
	if s.App.Restart == "" {
		s.App.Restart = RestartNever
	}
	if s.App.OnExit == "" {
		s.App.OnExit = OnExitReboot
	}
	if p := s.Persistent; p != nil {
		if p.FS == "" {
			p.FS = DefaultPersistentFS
		}
		if p.Label == "" {
			p.Label = DefaultLabel
		}
		if p.Wait == 0 {
			p.Wait = DefaultPersistentWait
		}
	}
	if s.Network.DHCP == nil {
		on := true
		s.Network.DHCP = &on
	}
	if s.Network.Wait == 0 {
		s.Network.Wait = DefaultNetworkWait
	}
	// nil and empty differ: an explicit "ntp: []" means DHCP-offered
	// servers only.
	if s.Time.NTP == nil {
		s.Time.NTP = slices.Clone(DefaultNTP)
	}
	if s.Time.Wait == 0 {
		s.Time.Wait = DefaultTimeWait
	}
	if s.Watchdog == nil {
		s.Watchdog = &Watchdog{}
	}
	if s.Watchdog.Enabled == nil {
		on := true
		s.Watchdog.Enabled = &on
	}
	if s.Watchdog.Timeout == 0 {
		s.Watchdog.Timeout = DefaultWatchdog
	}
	if s.Hostname == "" {
		s.Hostname = s.Name
	}
	if s.CACerts == "" {
		s.CACerts = DefaultCACerts
	}
	s.applyRuntimeDefaults()
	// Output stays empty when not set: its default depends on the
	// formats the build writes, which --format can override.
}

// Resolve returns p relative to the spec's directory, or p itself when it
// is absolute or empty.
func (s *Spec) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.Dir, p)
}
