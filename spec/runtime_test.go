package spec

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRuntimeDiagnostics covers app.user, app.capabilities, app.limits,
// app.build, timezone and sysctl: each problem with its position.
func TestRuntimeDiagnostics(t *testing.T) {
	dir := fixture(t)
	app := head + "app:\n  go: ./hello\n"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"valid", app + `  user: {uid: 1000, gid: 100, name: svc, groups: [10, 20]}
  capabilities: [CAP_NET_BIND_SERVICE, CAP_NET_RAW]
  limits: {nofile: 65536, core: 0, memlock: 67108864}
  build: {tags: [timetzdata, netgo], ldflags: "-X main.version=1.2"}
timezone: Europe/Berlin
sysctl:
  net.core.somaxconn: "1024"
  net/ipv4/conf/eth0.10/rp_filter: "2"
  fs.nr_open: "2097152"
`, nil},
		{"uid 0 with capabilities", app + "  user: {uid: 0}\n  capabilities: [CAP_NET_RAW]\n", []string{
			"5:15: app.user.uid: uid 0 with capabilities: root holds every capability; the list is for a non-root app.user",
		}},
		{"capabilities without user", app + "  capabilities: [CAP_NET_RAW]\n", []string{
			"5:17: app.capabilities: capabilities are kept for a non-root app.user, and the app runs as root (which holds them all)",
		}},
		{"unknown capability close match", app + "  user: {uid: 1000}\n  capabilities: [CAP_NET_BIND_SERVIC]\n", []string{
			`6:18: app.capabilities[0]: unknown capability "CAP_NET_BIND_SERVIC"; did you mean "CAP_NET_BIND_SERVICE"?`,
		}},
		{"capability in lower case", app + "  user: {uid: 1000}\n  capabilities: [net_admin]\n", []string{
			`6:18: app.capabilities[0]: unknown capability "net_admin"; write it as "CAP_NET_ADMIN"`,
		}},
		{"unknown capability far off", app + "  user: {uid: 1000}\n  capabilities: [CAP_FLY_TO_THE_MOON]\n", []string{
			`6:18: app.capabilities[0]: unknown capability "CAP_FLY_TO_THE_MOON"`,
		}},
		{"duplicate capability", app + "  user: {uid: 1000}\n  capabilities: [CAP_KILL, CAP_KILL]\n", []string{
			"6:28: warning: app.capabilities[1]: CAP_KILL is listed twice",
		}},
		{"uid too large", app + "  user: {uid: 4294967295}\n", []string{
			"5:15: app.user.uid: 4294967295 is above the maximum, 4294967294",
		}},
		{"user without uid", app + "  user: {name: svc}\n", []string{
			`5:3: app.user.uid: required key "uid" is missing`,
		}},
		{"negative uid", app + "  user: {uid: -1}\n", []string{
			"5:15: app.user.uid: -1 is below the minimum, 0",
		}},
		{"bad user name", app + "  user: {uid: 1000, name: Bad Name}\n", []string{
			`5:27: app.user.name: invalid value "Bad Name"`,
		}},
		{"root by another name", app + "  user: {uid: 0, name: admin}\n", []string{
			`5:24: app.user.name: uid 0 is root, not "admin"`,
		}},
		{"root name non-zero uid", app + "  user: {uid: 5, name: root}\n", []string{
			"5:24: app.user.name: root is uid 0 in /etc/passwd, not 5",
		}},
		{"nobody", app + "  user: {uid: 65534}\n", []string{
			"5:15: app.user.uid: uid 65534 (nobody) is the image's unprivileged account, not one for the app",
		}},
		{"unknown limit", app + "  limits: {nofiles: 10}\n", []string{
			`5:12: app.limits.nofiles: unknown key "nofiles"; did you mean "nofile"?`,
		}},
		{"limit not a number", app + "  limits: {nofile: lots}\n", []string{
			`5:20: app.limits.nofile: expected an integer, got a string`,
		}},
		{"nofile above nr_open", app + "  limits: {nofile: 2000000}\n", []string{
			"5:20: app.limits.nofile: nofile 2000000 is above fs.nr_open (1048576), which the kernel refuses",
		}},
		{"build with binary", head + "app:\n  binary: ./app\n  build: {tags: [x]}\n", []string{
			"5:10: app.build: app.build only applies to app.go; app.binary is prebuilt",
		}},
		{"bad build tag", app + "  build: {tags: [\"a b\"]}\n", []string{
			`5:18: app.build.tags[0]: invalid value "a b"`,
		}},
		{"unknown timezone close match", app + "timezone: Europe/Berln\n", []string{
			`5:11: timezone: unknown time zone "Europe/Berln"; did you mean "Europe/Berlin"?`,
		}},
		{"unknown timezone", app + "timezone: Atlantis/Capital\n", []string{
			`5:11: timezone: unknown time zone "Atlantis/Capital"`,
		}},
		{"Local timezone", app + "timezone: Local\n", []string{
			`5:11: timezone: "Local" is the build machine's zone, which the image cannot know`,
		}},
		{"sysctl key shapes", app + "sysctl:\n  somaxconn: \"1\"\n  net..core: \"1\"\n  net.core/x: \"1\"\n  \"net core.x\": \"1\"\n", []string{
			`6:3: sysctl.somaxconn: sysctl key "somaxconn" is not dotted or slashed words`,
			`7:3: sysctl.net..core: sysctl key "net..core" is not dotted or slashed words`,
			`8:3: sysctl.net.core/x: sysctl key "net.core/x" is not dotted or slashed words`,
			`9:3: sysctl.net core.x: sysctl key "net core.x" is not dotted or slashed words`,
		}},
		{"sysctl value not a string", app + "sysctl: {net.core.somaxconn: 1024}\n", []string{
			"5:30: sysctl.net.core.somaxconn: expected a string, got a number",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse(filepath.Join(dir, "tinyboot.yaml"), []byte(tc.yaml))
			if got := brief(diags); !slices.Equal(got, tc.want) {
				t.Errorf("diagnostics:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestRuntimeDefaults(t *testing.T) {
	s := &Spec{Name: "a", App: App{User: &User{UID: 1000}}}
	s.ApplyDefaults()
	if u := s.App.User; u.Name != DefaultUserName || u.GID == nil || *u.GID != 1000 {
		t.Errorf("user = %+v", u)
	}
	if n := s.App.Limits.Nofile; n == nil || *n != DefaultNofile {
		t.Errorf("nofile = %v", n)
	}
	root := &Spec{Name: "a", App: App{User: &User{UID: 0}}}
	root.ApplyDefaults()
	if root.App.User.Name != "root" {
		t.Errorf("uid 0 named %q", root.App.User.Name)
	}
	core := uint64(0)
	kept := &Spec{Name: "a", App: App{Limits: &Limits{Core: &core}}}
	kept.ApplyDefaults()
	if m := kept.App.Limits.Map(); len(m) != 2 || m["core"] != 0 || m["nofile"] != DefaultNofile {
		t.Errorf("limits = %v", m)
	}
}
