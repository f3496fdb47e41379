package compose

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"

	"github.com/tinyboot/tinyboot/compose/authenticode"
	"github.com/tinyboot/tinyboot/compose/plan"
	"github.com/tinyboot/tinyboot/internal/zoneinfo"
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

// zoneFiles are the initramfs entries of the time zone database when the
// spec sets a timezone: the Go toolchain's zoneinfo.zip unpacked at
// baked.ZoneinfoDir (where Go, glibc and musl all look, for TZ and
// LoadLocation alike) and /etc/localtime linked to the zone. The database
// must be the one pin names, if pin is set; its sha256 is returned for the
// lock.
func zoneFiles(ctx context.Context, zone, pin string) ([]plan.File, string, error) {
	if zone == "" {
		return nil, "", nil
	}
	db, err := zoneinfo.Load(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("timezone: %w", err)
	}
	if pin != "" && pin != db.SHA256 {
		return nil, "", fmt.Errorf("timezone: the Go toolchain's zone database %s (sha256 %s) is not the one %s pins (%s); build with the Go release that wrote the lock, or run tbcompose build --update", db.Path, db.SHA256, LockName, pin)
	}
	if !db.Has(zone) {
		return nil, "", fmt.Errorf("timezone: %q is not in the zone database %s", zone, db.Path)
	}
	var files []plan.File
	if err := db.Walk(func(name string, tzif []byte) error {
		files = append(files, plan.File{Path: path.Join(baked.ZoneinfoDir, name), Mode: 0o644, Data: tzif})
		return nil
	}); err != nil {
		return nil, "", err
	}
	files = append(files, plan.File{Path: "/etc/localtime", Mode: 0o777, Link: path.Join(baked.ZoneinfoDir, zone)})
	return files, db.SHA256, nil
}

// signTransform signs the built UKI for Secure Boot. Its key names the
// certificate only: the private key never reaches the cache, and the
// signature follows from the certificate's key and the bytes signed.
type signTransform struct{ signer *authenticode.Signer }

func (t signTransform) Key() string { return "signed " + t.signer.ID() }

func (t signTransform) Apply(_ context.Context, uki []byte) ([]byte, error) {
	signed, err := t.signer.Sign(uki)
	if err != nil {
		return nil, fmt.Errorf("secure_boot: sign the UKI: %w", err)
	}
	return signed, nil
}

// secureBootTransforms loads the spec's signing key, if it has one.
func secureBootTransforms(s *spec.Spec) ([]plan.Transform, error) {
	sb := s.SecureBoot
	if sb == nil {
		return nil, nil
	}
	signer, err := authenticode.Load(s.Resolve(sb.Key), s.Resolve(sb.Cert))
	if err != nil {
		return nil, fmt.Errorf("secure_boot: %w", err)
	}
	return []plan.Transform{signTransform{signer}}, nil
}
