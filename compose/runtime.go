package compose

import (
	"fmt"
	"maps"
	"path"
	"slices"

	"github.com/tinyboot/tinyboot/compose/initramfs"
	"github.com/tinyboot/tinyboot/internal/zoneinfo"

	"github.com/tinyboot/tinyboot/compose/app"
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

// goBuildOptions are app.build's options for the Go build.
func goBuildOptions(s *spec.Spec) app.Options {
	if s.App.Build == nil {
		return app.Options{}
	}
	return app.Options{Tags: s.App.Build.Tags, LDFlags: s.App.Build.LDFlags}
}

// addZoneinfo ships the time zone database when the spec sets a timezone:
// the Go toolchain's zoneinfo.zip unpacked at baked.ZoneinfoDir (where Go,
// glibc and musl all look, for TZ and LoadLocation alike) and
// /etc/localtime linked to the zone. The database must be the one the lock
// pins, if it pins one; its sha256 goes into the result for the next lock.
func (b *builder) addZoneinfo(a *initramfs.Archive) error {
	zone := b.spec.Timezone
	if zone == "" {
		return nil
	}
	db, err := zoneinfo.Load(b.ctx)
	if err != nil {
		return fmt.Errorf("timezone: %w", err)
	}
	if pin := b.opts.ZoneinfoSHA256; pin != "" && pin != db.SHA256 {
		return fmt.Errorf("timezone: the Go toolchain's zone database %s (sha256 %s) is not the one %s pins (%s); build with the Go release that wrote the lock, or run tbcompose build --update", db.Path, db.SHA256, LockName, pin)
	}
	if !db.Has(zone) {
		return fmt.Errorf("timezone: %q is not in the zone database %s", zone, db.Path)
	}
	b.res.ZoneinfoSHA256 = db.SHA256
	if err := db.Walk(func(name string, tzif []byte) error {
		return a.File(path.Join(baked.ZoneinfoDir, name), 0o644, tzif)
	}); err != nil {
		return err
	}
	return a.Symlink("/etc/localtime", path.Join(baked.ZoneinfoDir, zone))
}
