package compose

import (
	"maps"
	"slices"

	"github.com/tinyboot/tinyboot/spec"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// bakeRuntime copies what the agent needs to run the app as the spec's
// user, with its limits, time zone and sysctls. A user with uid 0 is root:
// baked as no user at all, so the agent has one way to run as root.
func bakeRuntime(s *spec.Spec, c *baked.Config) {
	if u := s.App.User; u != nil && u.UID != 0 {
		gid := u.UID
		if u.GID != nil {
			gid = *u.GID
		}
		name := u.Name
		if name == "" {
			name = spec.DefaultUserName
		}
		c.App.User = &baked.User{UID: u.UID, GID: gid, Name: name, Groups: slices.Clone(u.Groups)}
		c.App.Capabilities = slices.Clone(s.App.Capabilities)
	}
	c.App.Limits = s.App.Limits.Map()
	if len(c.App.Limits) == 0 {
		c.App.Limits = nil
	}
	c.Timezone = s.Timezone
	if len(s.Sysctl) > 0 {
		c.Sysctl = maps.Clone(s.Sysctl)
	}
}
