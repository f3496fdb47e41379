package agent

import (
	"encoding/json"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/tinyboot/tinyboot/internal/capability"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// nonRoot is config() with a non-root user keeping one capability, a
// zone, limits and sysctls.
func nonRoot() *baked.Config {
	cfg := config()
	cfg.App.User = &baked.User{UID: 1000, GID: 1000, Name: "app", Groups: []uint32{1000, 2000}}
	cfg.App.Capabilities = []string{"CAP_NET_BIND_SERVICE"}
	cfg.App.Limits = map[string]uint64{"nofile": 1 << 20}
	cfg.Timezone = "Europe/Berlin"
	cfg.Sysctl = map[string]string{"net.core.somaxconn": "1024", "net/ipv4/conf/eth0.10/rp_filter": "2", "vm.gone": "1"}
	return cfg
}

func TestNonRootApp(t *testing.T) {
	sys := disks()
	sys.procs = []proc{{exit: exit(0)}}
	sys.failWrite = map[string]error{"/proc/sys/vm/gone": &fs.PathError{Op: "open", Path: "/proc/sys/vm/gone", Err: syscall.ENOENT}}
	h := newHarness(sys)
	h.run(t, nonRoot())
	start := "start /bin/hello -v GREETING=hi HOME=/home/app LOGNAME=app PATH=" + defaultPath +
		" TINYBOOT_ISO=/iso TINYBOOT_PERSISTENT=/persistent TZ=Europe/Berlin USER=app ZONEINFO=/usr/share/zoneinfo"
	has(t, "calls", sys.Calls(), []string{
		"hostname hello",
		"write /etc/group \"root:x:0:\\napp:x:1000:\\ngroup2000:x:2000:app\\nnobody:x:65534:\\n\"",
		"write /etc/hosts \"127.0.0.1\\tlocalhost\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n127.0.1.1\\thello\\n\"",
		"write /etc/nsswitch.conf \"passwd: files\\ngroup: files\\nhosts: files dns\\n\"",
		"write /etc/passwd \"root:x:0:0:root:/root:/sbin/nologin\\napp:x:1000:1000:app:/home/app:/sbin/nologin\\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\\n\"",
		"mkdir /home 755",
		"mkdir /home/app 700",
		"chown /home/app 1000:1000",
		// Sorted by key: the slashed one sorts first.
		"write /proc/sys/net/core/somaxconn \"1024\"",
		"write /proc/sys/net/ipv4/conf/eth0.10/rp_filter \"2\"",
		"write /proc/sys/vm/gone \"1\"",
		start,
	})
	// The volume is mounted by the storage search, which runs beside the
	// module loads and sysctls: after /etc, before the app.
	has(t, "calls", sys.Calls(), []string{
		"write /etc/passwd \"root:x:0:0:root:/root:/sbin/nologin\\napp:x:1000:1000:app:/home/app:/sbin/nologin\\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\\n\"",
		"mount /dev/vdb /persistent btrfs 0x0",
		"chown /persistent 1000:1000",
		start,
	})
	has(t, "console", h.out.Lines(), []string{
		"sysctl: vm.gone: not in this kernel; skipped",
		"sysctl: set 2 of 3",
		"app: started /bin/hello (pid 101)",
	})
	want := Privileges{User: nonRoot().App.User, Caps: 1 << 10, Limits: map[string]uint64{"nofile": 1 << 20}}
	if len(sys.privs) != 1 || !reflect.DeepEqual(sys.privs[0], want) {
		t.Errorf("privileges = %+v, want %+v", sys.privs, want)
	}
}

// TestAppEnvOverrides: app.env comes last, so it may replace HOME or TZ.
func TestAppEnvOverrides(t *testing.T) {
	cfg := nonRoot()
	cfg.App.Env = map[string]string{"HOME": "/persistent", "TZ": "UTC"}
	a := &agent{cfg: cfg}
	env := a.appEnv()
	for _, want := range []string{"HOME=/persistent", "TZ=UTC", "USER=app"} {
		if !slices.Contains(env, want) {
			t.Errorf("env %v lacks %s", env, want)
		}
	}
}

func TestEtcFiles(t *testing.T) {
	root := etcFiles("web.example.org", appUser{name: "root", home: rootHome})
	if got, want := root["/etc/hosts"], "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tweb.example.org web\n"; got != want {
		t.Errorf("hosts = %q, want %q", got, want)
	}
	if strings.Count(root["/etc/passwd"], "\n") != 2 || strings.Count(root["/etc/group"], "\n") != 2 {
		t.Errorf("root only: passwd %q group %q", root["/etc/passwd"], root["/etc/group"])
	}
	// A user whose primary group is nobody's and who is also in root's.
	u := etcFiles("h", appUser{name: "svc", uid: 5, gid: nobodyID, groups: []uint32{0, nobodyID}, home: "/home/svc"})
	if got, want := u["/etc/group"], "root:x:0:svc\nnobody:x:65534:\n"; got != want {
		t.Errorf("group = %q, want %q", got, want)
	}
}

func TestSysctlPath(t *testing.T) {
	for key, want := range map[string]string{
		"net.core.somaxconn":              "/proc/sys/net/core/somaxconn",
		"net/core/somaxconn":              "/proc/sys/net/core/somaxconn",
		"net/ipv4/conf/eth0.10/rp_filter": "/proc/sys/net/ipv4/conf/eth0.10/rp_filter",
		"fs.nr_open":                      "/proc/sys/fs/nr_open",
	} {
		if got := sysctlPath(key); got != want {
			t.Errorf("sysctlPath(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestPrivileges covers the capability set the agent asks for: a non-root
// user's list, nothing for root (which keeps all), and a bad name.
func TestPrivileges(t *testing.T) {
	tests := []struct {
		name    string
		user    *baked.User
		caps    []string
		want    capability.Set
		wantErr bool
	}{
		{"non-root with two", &baked.User{UID: 1000}, []string{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW"}, 1<<10 | 1<<13, false},
		{"non-root with none", &baked.User{UID: 1000}, nil, 0, false},
		{"root keeps all", nil, []string{"CAP_NET_RAW"}, 0, false},
		{"unknown", &baked.User{UID: 1000}, []string{"CAP_FLY"}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config()
			cfg.App.User, cfg.App.Capabilities = tc.user, tc.caps
			p, err := (&agent{cfg: cfg}).privileges()
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if p.Caps != tc.want {
				t.Errorf("caps = %s, want %s", p.Caps, tc.want)
			}
		})
	}
}

// TestHelperArgvRoundTrip: what StartApp passes the helper is what it
// reads back.
func TestHelperArgvRoundTrip(t *testing.T) {
	p := Privileges{User: &baked.User{UID: 7, GID: 8, Name: "x", Groups: []uint32{9}}, Caps: 1 << 10, Limits: map[string]uint64{"nofile": 10, "core": 0}}
	argv, err := helperArgv(p, "/bin/app", []string{"/bin/app", "-v"})
	if err != nil {
		t.Fatal(err)
	}
	if argv[0] != execHelper || argv[2] != "/bin/app" || !slices.Equal(argv[3:], []string{"/bin/app", "-v"}) {
		t.Fatalf("argv = %q", argv)
	}
	var back Privileges
	if err := json.Unmarshal([]byte(argv[1]), &back); err != nil || !reflect.DeepEqual(back, p) {
		t.Errorf("read back %+v (%v), want %+v", back, err, p)
	}
	if (Privileges{}).zero() != true || p.zero() {
		t.Error("zero() is wrong")
	}
}

// TestExecAppRefusesBadPlans: the helper's input errors are said before
// anything is applied (so these are safe to run in the test process).
func TestExecAppRefusesBadPlans(t *testing.T) {
	for _, args := range [][]string{
		{"{}"},
		{"not json", "/bin/x", "/bin/x"},
		{`{"limits":{"nofiles":1}}`, "/bin/x", "/bin/x"},
	} {
		if err := execApp(args); err == nil {
			t.Errorf("execApp(%q): no error", args)
		}
	}
}
