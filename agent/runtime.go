package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/tinyboot/tinyboot/spec/baked"
)

// The /etc basics (hosts, passwd, group, nsswitch.conf) are written by the
// agent at boot rather than packed by the composer: /etc/hosts must name
// the hostname the machine really has, which is the agent's to decide
// (per-instance hostnames will come from outside the image), and passwd,
// group and the app's HOME describe one account, so one place makes all
// of them. It costs a few small writes to the RAM root filesystem.

// Accounts every image has besides the app's.
const (
	rootHome  = "/root"
	nobodyID  = 65534
	noShell   = "/sbin/nologin" // the image has no shell; os/user does not care
	homesDir  = "/home"
	zoneinfoE = "ZONEINFO"
)

// appUser is who the app runs as: root (User nil) or the spec's user.
type appUser struct {
	name     string
	uid, gid uint32
	groups   []uint32
	home     string
}

func userOf(cfg *baked.Config) appUser {
	u := cfg.App.User
	if u == nil {
		return appUser{name: "root", home: rootHome}
	}
	return appUser{name: u.Name, uid: u.UID, gid: u.GID, groups: u.Groups, home: path.Join(homesDir, u.Name)}
}

// etcFiles are the contents of the /etc basics for hostname and the app's
// user.
func etcFiles(hostname string, u appUser) map[string]string {
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if hostname != "" && hostname != "localhost" {
		// Debian's convention: the hostname on a loopback address of its
		// own, so it resolves without DNS and without claiming localhost.
		names := hostname
		if short, _, ok := strings.Cut(hostname, "."); ok && short != "" {
			names += " " + short
		}
		fmt.Fprintf(&hosts, "127.0.1.1\t%s\n", names)
	}

	passwd := []string{"root:x:0:0:root:/root:" + noShell}
	if u.uid != 0 {
		passwd = append(passwd, fmt.Sprintf("%s:x:%d:%d:%s:%s:%s", u.name, u.uid, u.gid, u.name, u.home, noShell))
	}
	passwd = append(passwd, fmt.Sprintf("nobody:x:%d:%d:nobody:/nonexistent:%s", nobodyID, nobodyID, noShell))

	// Groups by id: root, nobody, the user's primary group (named after
	// it) and one per supplementary id, each listing the user as member.
	type group struct {
		name    string
		members []string
	}
	groups := map[uint32]*group{0: {name: "root"}, nobodyID: {name: "nobody"}}
	if u.uid != 0 {
		if _, ok := groups[u.gid]; !ok {
			groups[u.gid] = &group{name: u.name}
		}
		for _, g := range u.groups {
			if _, ok := groups[g]; !ok {
				groups[g] = &group{name: "group" + strconv.FormatUint(uint64(g), 10)}
			}
			if g != u.gid && !containsString(groups[g].members, u.name) {
				groups[g].members = append(groups[g].members, u.name)
			}
		}
	}
	ids := make([]uint32, 0, len(groups))
	for id := range groups {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var groupFile strings.Builder
	for _, id := range ids {
		g := groups[id]
		fmt.Fprintf(&groupFile, "%s:x:%d:%s\n", g.name, id, strings.Join(g.members, ","))
	}
	return map[string]string{
		"/etc/hosts":         hosts.String(),
		"/etc/passwd":        strings.Join(passwd, "\n") + "\n",
		"/etc/group":         groupFile.String(),
		"/etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// setupEtc writes the /etc basics and makes the app's home directory,
// owned by it. Failures are logged: the app may well run without them.
func (a *agent) setupEtc() {
	u := userOf(a.cfg)
	a.writeEtc(a.cfg.Hostname)
	if u.uid != 0 {
		// /home first, open to all: MkdirAll would give it the 0700 of the
		// home itself, which the user could then not get through.
		if err := a.sys.MkdirAll(homesDir, 0o755); err != nil {
			a.log.Printf("etc: %s: %v", homesDir, err)
		} else if err := a.sys.MkdirAll(u.home, 0o700); err != nil {
			a.log.Printf("etc: home %s: %v", u.home, err)
		} else if err := a.sys.Chown(u.home, int(u.uid), int(u.gid)); err != nil {
			a.log.Printf("etc: home %s: %v", u.home, err)
		}
	}
}

// writeEtc writes /etc/hosts, passwd, group and nsswitch.conf for the
// hostname; it runs again when the instance's own configuration renames
// the machine, so that /etc/hosts names the hostname it really has.
func (a *agent) writeEtc(hostname string) {
	files := etcFiles(hostname, userOf(a.cfg))
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := a.sys.WriteFile(n, []byte(files[n]), 0o644); err != nil {
			a.log.Printf("etc: %v", err)
		}
	}
}

// givePersistent hands /persistent's top directory to the app's user, so a
// non-root app can write there. Only the top: what the app made before is
// its own already, and walking a large volume would slow every boot.
func (a *agent) givePersistent() {
	u := userOf(a.cfg)
	if u.uid == 0 {
		return
	}
	if err := a.sys.Chown(baked.PersistentMount, int(u.uid), int(u.gid)); err != nil {
		a.log.Printf("persistent: give %s to %s: %v", baked.PersistentMount, u.name, err)
	}
}

// applySysctl writes the spec's sysctls under /proc/sys, in key order. A
// key the kernel lacks (a module not loaded, an older kernel) is logged
// and skipped: the app may not depend on it.
func (a *agent) applySysctl() {
	keys := make([]string, 0, len(a.cfg.Sysctl))
	for k := range a.cfg.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	set := 0
	for _, k := range keys {
		v := a.cfg.Sysctl[k]
		p := sysctlPath(k)
		err := a.sys.WriteFile(p, []byte(v), 0o644)
		switch {
		case err == nil:
			set++
		case errors.Is(err, fs.ErrNotExist):
			a.log.Printf("sysctl: %s: not in this kernel; skipped", k)
		default:
			a.log.Printf("sysctl: %s = %q: %v", k, v, err)
		}
	}
	if set > 0 {
		a.log.Printf("sysctl: set %d of %d", set, len(keys))
	}
}

// sysctlPath maps net.core.somaxconn (or net/core/somaxconn) to its file.
// In the dotted form every dot separates words; names holding dots are
// written slashed, as sysctl(8) does.
func sysctlPath(key string) string {
	if !strings.Contains(key, "/") {
		key = strings.ReplaceAll(key, ".", "/")
	}
	return path.Join("/proc/sys", key)
}

// userEnv is the part of the app's environment that describes its user
// and zone, which app.env may override.
func (a *agent) userEnv(env map[string]string) {
	u := userOf(a.cfg)
	env["HOME"] = u.home
	env["USER"] = u.name
	env["LOGNAME"] = u.name
	if tz := a.cfg.Timezone; tz != "" {
		env["TZ"] = tz
		env[zoneinfoE] = baked.ZoneinfoDir
	}
}

// writeFile is Linux's WriteFile: the sysctl files under /proc/sys exist
// or not, so nothing is created there.
func writeFile(p string, data []byte, perm os.FileMode) error {
	flags := os.O_WRONLY | os.O_TRUNC
	if !strings.HasPrefix(p, "/proc/") {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(p, flags, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
