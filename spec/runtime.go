package spec

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tinyboot/tinyboot/internal/capability"
	"github.com/tinyboot/tinyboot/internal/zoneinfo"
)

// User is the non-root account the app runs as. Without one the app runs
// as root.
type User struct {
	// UID is the app's user id; 0 is root.
	UID uint32 `yaml:"uid" json:"uid"`
	// GID is its primary group id; default: UID.
	GID *uint32 `yaml:"gid,omitempty" json:"gid,omitempty"`
	// Name is its name in /etc/passwd and $USER; default DefaultUserName.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Groups are supplementary group ids.
	Groups []uint32 `yaml:"groups,omitempty" json:"groups,omitempty"`
}

// Limits are the app's resource limits (setrlimit(2)), soft = hard. Unset
// ones keep the kernel's default, except NOFILE (DefaultNofile).
type Limits struct {
	Nofile     *uint64 `yaml:"nofile,omitempty" json:"nofile,omitempty"`
	Nproc      *uint64 `yaml:"nproc,omitempty" json:"nproc,omitempty"`
	Memlock    *uint64 `yaml:"memlock,omitempty" json:"memlock,omitempty"`
	Core       *uint64 `yaml:"core,omitempty" json:"core,omitempty"`
	Stack      *uint64 `yaml:"stack,omitempty" json:"stack,omitempty"`
	AS         *uint64 `yaml:"as,omitempty" json:"as,omitempty"`
	Fsize      *uint64 `yaml:"fsize,omitempty" json:"fsize,omitempty"`
	Data       *uint64 `yaml:"data,omitempty" json:"data,omitempty"`
	CPU        *uint64 `yaml:"cpu,omitempty" json:"cpu,omitempty"`
	Locks      *uint64 `yaml:"locks,omitempty" json:"locks,omitempty"`
	Sigpending *uint64 `yaml:"sigpending,omitempty" json:"sigpending,omitempty"`
	Msgqueue   *uint64 `yaml:"msgqueue,omitempty" json:"msgqueue,omitempty"`
	Nice       *uint64 `yaml:"nice,omitempty" json:"nice,omitempty"`
	Rtprio     *uint64 `yaml:"rtprio,omitempty" json:"rtprio,omitempty"`
	Rttime     *uint64 `yaml:"rttime,omitempty" json:"rttime,omitempty"`
}

// Map returns the set limits by their YAML name ("nofile").
func (l *Limits) Map() map[string]uint64 {
	if l == nil {
		return nil
	}
	out := map[string]uint64{}
	for name, p := range map[string]*uint64{
		"nofile": l.Nofile, "nproc": l.Nproc, "memlock": l.Memlock, "core": l.Core,
		"stack": l.Stack, "as": l.AS, "fsize": l.Fsize, "data": l.Data, "cpu": l.CPU,
		"locks": l.Locks, "sigpending": l.Sigpending, "msgqueue": l.Msgqueue,
		"nice": l.Nice, "rtprio": l.Rtprio, "rttime": l.Rttime,
	} {
		if p != nil {
			out[name] = *p
		}
	}
	return out
}

// Build holds extra go build options for app.go.
type Build struct {
	// Tags are build tags (-tags), such as timetzdata.
	Tags []string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// LDFlags are appended to tinyboot's own -ldflags ("-s -w -buildid=").
	LDFlags string `yaml:"ldflags,omitempty" json:"ldflags,omitempty"`
}

// Runtime defaults.
const (
	// DefaultUserName names app.user when it has no name.
	DefaultUserName = "app"
	// DefaultNofile is RLIMIT_NOFILE unless app.limits.nofile says
	// otherwise: the kernel's fs.nr_open default, since servers expect
	// far more than the 1024 a process starts with.
	DefaultNofile uint64 = 1 << 20
	// nobodyID is nobody's uid and gid in the image's /etc/passwd.
	nobodyID = 65534
)

// applyRuntimeDefaults fills in app.user's name and gid and the default
// file limit.
func (s *Spec) applyRuntimeDefaults() {
	if u := s.App.User; u != nil {
		if u.Name == "" {
			u.Name = DefaultUserName
			if u.UID == 0 {
				u.Name = "root"
			}
		}
		if u.GID == nil {
			gid := u.UID
			u.GID = &gid
		}
	}
	if s.App.Limits == nil {
		s.App.Limits = &Limits{}
	}
	if s.App.Limits.Nofile == nil {
		n := DefaultNofile
		s.App.Limits.Nofile = &n
	}
}

// sysctlKey is a sysctl name: dotted words (net.core.somaxconn) or, for
// names whose words hold dots themselves (a VLAN interface "eth0.10"),
// slashed ones (net/ipv4/conf/eth0.10/rp_filter), as under /proc/sys.
var sysctlKey = regexp.MustCompile(`^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+|[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)+)$`)

// zoneDB reads the zone database the image would ship.
func zoneDB() (*zoneinfo.Database, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return zoneinfo.Load(ctx)
}

// runtime checks app.user, app.capabilities, app.limits, app.build,
// timezone and sysctl.
func (c *checker) runtime() {
	a := c.s.App
	if u := a.User; u != nil && c.has("/app/user/uid") {
		switch {
		case u.UID == 0 && u.Name != "" && u.Name != "root":
			c.errorf("/app/user/name", "remove app.user to run as root, or give a non-zero uid", "uid 0 is root, not %q", u.Name)
		case u.UID != 0 && u.Name == "root":
			c.errorf("/app/user/name", `use another name, or the default "app"`, "root is uid 0 in /etc/passwd, not %d", u.UID)
		case u.UID == nobodyID || u.Name == "nobody":
			c.errorf("/app/user/uid", "pick another uid, such as 1000", "uid %d (nobody) is the image's unprivileged account, not one for the app", nobodyID)
		}
	}
	nonRoot := a.User != nil && a.User.UID != 0
	seen := map[string]bool{}
	for i, name := range a.Capabilities {
		ptr := "/app/capabilities/" + strconv.Itoa(i)
		if _, ok := capability.Lookup(name); !ok {
			canon := strings.ToUpper(name)
			if !strings.HasPrefix(canon, "CAP_") {
				canon = "CAP_" + canon
			}
			if _, ok := capability.Lookup(canon); ok {
				c.errorf(ptr, "", "unknown capability %q; write it as %q", name, canon)
			} else if s := suggest(canon, capability.Names); s != "" {
				c.errorf(ptr, "see capabilities(7) for the names", "unknown capability %q; did you mean %q?", name, s)
			} else {
				c.errorf(ptr, "see capabilities(7) for the names", "unknown capability %q", name)
			}
			continue
		}
		if seen[name] {
			c.warnf(ptr, "remove the duplicate", "%s is listed twice", name)
		}
		seen[name] = true
	}
	if len(a.Capabilities) > 0 && !nonRoot {
		if a.User != nil {
			c.errorf("/app/user/uid", "give app.user a non-zero uid, or remove app.capabilities",
				"uid 0 with capabilities: root holds every capability; the list is for a non-root app.user")
		} else {
			c.errorf("/app/capabilities", "add app.user with a non-zero uid, such as {uid: 1000}",
				"capabilities are kept for a non-root app.user, and the app runs as root (which holds them all)")
		}
	}
	if l := a.Limits; l != nil && l.Nofile != nil {
		max := DefaultNofile
		if v, ok := c.s.Sysctl["fs.nr_open"]; ok {
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				max = n
			}
		}
		if *l.Nofile > max {
			c.errorf("/app/limits/nofile", "lower it, or raise sysctl fs.nr_open", "nofile %d is above fs.nr_open (%d), which the kernel refuses", *l.Nofile, max)
		}
	}
	if a.Build != nil && a.Binary != "" {
		c.errorf("/app/build", "remove app.build, or build from source with app.go", "app.build only applies to app.go; app.binary is prebuilt")
	}
	if tz := c.s.Timezone; tz != "" {
		c.timezone(tz)
	}
	keys := make([]string, 0, len(c.s.Sysctl))
	for k := range c.s.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ptr := childPtr("/sysctl", k)
		if !sysctlKey.MatchString(k) {
			c.keyErrorf(ptr, "write it as under /proc/sys, with dots or slashes: net.core.somaxconn or net/core/somaxconn",
				"sysctl key %q is not dotted or slashed words", k)
		}
		if v := c.s.Sysctl[k]; strings.ContainsAny(v, "\n\x00") {
			c.errorf(ptr, "", "sysctl %s: the value holds a newline or NUL", k)
		}
	}
}

// timezone checks that zone is in the zone database the image will ship.
func (c *checker) timezone(zone string) {
	if zone == "Local" {
		c.errorf("/timezone", "name the zone, such as Europe/Berlin", `"Local" is the build machine's zone, which the image cannot know`)
		return
	}
	db, err := zoneDB()
	if err != nil {
		c.warnf("/timezone", "", "cannot check the zone: %v", err)
		return
	}
	if db.Has(zone) {
		return
	}
	hint := fmt.Sprintf("use a name from the IANA database, as in %s", db.Path)
	if s := suggest(zone, db.Zones); s != "" {
		c.errorf("/timezone", hint, "unknown time zone %q; did you mean %q?", zone, s)
		return
	}
	c.errorf("/timezone", hint, "unknown time zone %q", zone)
}

// keyErrorf is errorf at the key of the value at ptr, for problems with
// the key itself.
func (c *checker) keyErrorf(ptr, hint, format string, args ...any) {
	l := c.t.locate(ptr)
	c.t.diags = append(c.t.diags, Diagnostic{
		File: c.t.file, Line: l.key.line, Column: l.key.col, Path: l.path,
		Message: fmt.Sprintf(format, args...), Hint: hint, Severity: SeverityError,
	})
}
