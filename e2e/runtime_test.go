package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/internal/qemu"
	"github.com/tinyboot/tinyboot/spec"
)

// runtimeSpec is the runtime scenario's image: a non-root app keeping only
// CAP_NET_BIND_SERVICE, a zone, a sysctl (and one the kernel lacks),
// build options, and a persistent volume.
func runtimeSpec(t *testing.T) string {
	t.Helper()
	appDir, err := filepath.Abs("runtimeapp")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`name: rt
kernel:
  package: linux-image-amd64
  cmdline: [console=ttyS0, panic=-1]
app:
  go: %q
  user: {uid: 1000, groups: [2000]}
  capabilities: [CAP_NET_BIND_SERVICE]
  build: {tags: [rtcheck], ldflags: "-X main.version=rt-1.2"}
persistent: {label: %s, wait: 5s}
time: {ntp: []}
timezone: Europe/Berlin
sysctl:
  net.core.somaxconn: "1234"
  vm.no_such_setting: "1"
`, appDir, spec.DefaultLabel)
}

// TestRuntimeNonRootApp boots once and checks what a server expects of
// the machine: it runs as uid 1000 with only CAP_NET_BIND_SERVICE (ambient,
// bounding) and no_new_privs, still serves on port 80 and writes
// /persistent, $HOME and /tmp; HOME and USER name its account, which
// os/user finds; RLIMIT_NOFILE is 1048576; the local zone is Europe/Berlin
// and other zones load; localhost resolves without DNS; the sysctl holds
// and a key the kernel lacks is only logged; app.build reached the build.
func TestRuntimeNonRootApp(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	img := buildImage(t, runtimeSpec(t), "")
	port := freePort(t)
	m := boot(t, qemu.Config{
		Image:   img,
		Disks:   []string{newDisk(t, spec.FSBtrfs, spec.DefaultLabel)},
		Publish: []qemu.PortForward{{Host: uint16(port), Guest: 80}},
	})
	ctx := context.Background()
	m.Expect(ctx, `tinyboot: .*sysctl: vm.no_such_setting: not in this kernel; skipped`, bootWait)
	m.Expect(ctx, `tinyboot: .*sysctl: set 1 of 2`, stepWait)
	started := m.Expect(ctx, `tinyboot: .*app: started /bin/rt`, bootWait)
	noteGuest(t, stamp(t, started))
	const capNetBind = "0000000000000400" // 1 << 10
	for _, want := range []string{
		`runtimeapp: build version rt-1.2 tagged yes$`,
		`runtimeapp: uid 1000 gid 1000 euid 1000 groups \[2000\]$`,
		`runtimeapp: status CapEff ` + capNetBind + `$`,
		`runtimeapp: status CapPrm ` + capNetBind + `$`,
		`runtimeapp: status CapInh ` + capNetBind + `$`,
		`runtimeapp: status CapBnd ` + capNetBind + `$`,
		`runtimeapp: status CapAmb ` + capNetBind + `$`,
		`runtimeapp: status NoNewPrivs 1$`,
		`runtimeapp: env HOME=/home/app USER=app LOGNAME=app TZ=Europe/Berlin ZONEINFO=/usr/share/zoneinfo$`,
		`runtimeapp: user.Current app home /home/app$`,
		`runtimeapp: nofile soft 1048576 hard 1048576$`,
		`runtimeapp: local zone CES?T (3600|7200) same-as-berlin true$`,
		`runtimeapp: new york zone EST$`,
		`runtimeapp: localhost 127\.0\.0\.1( ::1)?$`,
		`runtimeapp: somaxconn 1234$`,
		`runtimeapp: write /persistent: ok$`,
		`runtimeapp: write /home/app: ok$`,
		`runtimeapp: write /tmp: ok$`,
		`runtimeapp: listening on :80$`,
	} {
		m.Expect(ctx, want, stepWait)
	}
	body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	if got := strings.TrimSpace(string(body)); got != "uid 1000" {
		t.Errorf("GET / on guest port 80 = %q, want %q", got, "uid 1000")
	}
	for _, l := range m.lines(`runtimeapp: |tinyboot: .*(sysctl|etc): `) {
		t.Log(l)
	}
	powerOff(t, m)
	m.requireLines(`runtimeapp: got SIGTERM`, `tinyboot: .*shutdown: synced and unmounted /persistent`)
	m.refuseLines(`tinyboot: .*etc: `, `tinyboot: app: `)
}
