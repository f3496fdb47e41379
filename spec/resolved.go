package spec

import "path/filepath"

// Resolved is a spec with every default applied. It is made only by
// WithDefaults, so a function taking one knows that no optional setting is
// left for it to derive: the hostname, the output path, DHCP, the persistent
// volume's filesystem and label are all set.
type Resolved struct {
	s Spec
}

// WithDefaults returns a copy of s with ApplyDefaults' values filled in;
// s itself is left as written.
func (s *Spec) WithDefaults() *Resolved {
	c := *s
	if s.Persistent != nil {
		p := *s.Persistent
		c.Persistent = &p
	}
	if s.Network.DHCP != nil {
		on := *s.Network.DHCP
		c.Network.DHCP = &on
	}
	// ApplyDefaults fills these in place: copy them so that s is not.
	if s.Watchdog != nil {
		w := *s.Watchdog
		c.Watchdog = &w
	}
	if s.App.User != nil {
		u := *s.App.User
		c.App.User = &u
	}
	if s.App.Limits != nil {
		l := *s.App.Limits
		c.App.Limits = &l
	}
	c.ApplyDefaults()
	if c.Output != "" && !filepath.IsAbs(c.Output) {
		c.Output = c.Resolve(c.Output)
	}
	return &Resolved{s: c}
}

// Spec is the spec with defaults applied. Callers read it and must not
// change it.
func (r *Resolved) Spec() *Spec { return &r.s }

// DHCP reports whether the machine runs DHCP on its NICs.
func (r *Resolved) DHCP() bool { return *r.s.Network.DHCP }

// Output is the spec's output resolved against its directory, or "" when
// the spec does not set it (the composer then names each output after the
// machine, beside the spec; see compose.OutputPaths).
func (r *Resolved) Output() string { return r.s.Output }
