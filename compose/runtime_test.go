package compose

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/internal/zoneinfo"
	"github.com/tinyboot/tinyboot/spec"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// TestTimezoneShipsToolchainZones builds an image with a timezone and
// reads it back: the toolchain's whole database under
// /usr/share/zoneinfo, /etc/localtime linking to the zone, the zone and
// sysctls and user in the baked spec, and the database's sha256 in the
// result for the lock.
func TestTimezoneShipsToolchainZones(t *testing.T) {
	db, err := zoneinfo.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := newErrFixture(t)
	gid := uint32(50)
	f.spec.Timezone = "Europe/Berlin"
	f.spec.Sysctl = map[string]string{"net.core.somaxconn": "1024"}
	f.spec.App.User = &spec.User{UID: 1000, GID: &gid, Name: "svc"}
	f.spec.App.Capabilities = []string{"CAP_NET_BIND_SERVICE"}
	res, err := Build(context.Background(), f.spec, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.ZoneinfoSHA256 != db.SHA256 {
		t.Errorf("result zoneinfo sha256 %q, want %q", res.ZoneinfoSHA256, db.SHA256)
	}
	in, err := Inspect(res.Output)
	if err != nil {
		t.Fatal(err)
	}
	zones, link := 0, ""
	for _, e := range in.Initramfs {
		if strings.HasPrefix(e.Path, baked.ZoneinfoDir+"/") && !e.Dir {
			zones++
		}
		if e.Path == "/etc/localtime" {
			link = e.Link
		}
	}
	if zones != len(db.Zones) {
		t.Errorf("%d zone files in the image, the database has %d", zones, len(db.Zones))
	}
	if link != baked.ZoneinfoDir+"/Europe/Berlin" {
		t.Errorf("/etc/localtime links to %q", link)
	}
	c := in.Spec
	if c.Timezone != "Europe/Berlin" || c.Sysctl["net.core.somaxconn"] != "1024" {
		t.Errorf("baked timezone %q sysctl %v", c.Timezone, c.Sysctl)
	}
	if want := (&baked.User{UID: 1000, GID: 50, Name: "svc"}); !reflect.DeepEqual(c.App.User, want) || len(c.App.Capabilities) != 1 {
		t.Errorf("baked user %+v caps %v", c.App.User, c.App.Capabilities)
	}
	if c.App.Limits["nofile"] != spec.DefaultNofile {
		t.Errorf("baked limits %v", c.App.Limits)
	}
}

func TestTimezoneErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *errFixture)
		want  []string
	}{
		{"pin differs", func(f *errFixture) {
			f.spec.Timezone = "UTC"
			f.opts.ZoneinfoSHA256 = strings.Repeat("0", 64)
		}, []string{"timezone:", "zone database", "tinyboot.lock pins", "--update"}},
		{"zone vanished", func(f *errFixture) {
			f.spec.Timezone = "Mars/Olympus"
		}, []string{"timezone:", `"Mars/Olympus" is not in the zone database`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newErrFixture(t)
			tc.setup(f)
			_, err := Build(context.Background(), f.spec, f.opts)
			if err == nil {
				t.Fatal("build succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

// TestBakeRootUser: uid 0 is root, baked as no user and no capabilities.
func TestBakeRootUser(t *testing.T) {
	s := &spec.Spec{Name: "a", App: spec.App{User: &spec.User{UID: 0}}}
	s.ApplyDefaults()
	c := Bake(s, "6.1", nil)
	if c.App.User != nil || c.App.Capabilities != nil || c.App.Limits["nofile"] != spec.DefaultNofile {
		t.Errorf("baked %+v", c.App)
	}
}

// TestLockPinsZoneinfo: the zone database's sha256 survives the lock file
// and a different one makes the lock differ (so it is rewritten).
func TestLockPinsZoneinfo(t *testing.T) {
	p := t.TempDir() + "/" + LockName
	l := &Lock{Version: LockVersion, Kernel: "linux-image-amd64", Zoneinfo: strings.Repeat("ab", 32)}
	if err := WriteLock(p, l); err != nil {
		t.Fatal(err)
	}
	back, err := ReadLock(p)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(l) || back.Zoneinfo != l.Zoneinfo {
		t.Errorf("read back %+v, want %+v", back, l)
	}
	other := *l
	other.Zoneinfo = strings.Repeat("cd", 32)
	if l.Equal(&other) {
		t.Error("locks with different zone databases are equal")
	}
}
