package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/internal/qemu"
)

// watchdogTimeout is the test images' watchdog.timeout: short, so that
// outliving twice of it takes a moment only.
const watchdogTimeout = 10 * time.Second

// watchdogQEMU gives the machine QEMU's i6300esb watchdog; when it fires,
// QEMU exits without a guest shutdown, which no clean power-off or reboot
// looks like.
var watchdogQEMU = []string{"-device", "i6300esb", "-watchdog-action", "poweroff"}

// syslogServer collects the datagrams sent to a UDP port on the host's
// loopback, which QEMU's user network shows the guest as 10.0.2.2.
type syslogServer struct {
	port int
	mu   sync.Mutex
	msgs []string
}

func startSyslog(t *testing.T) *syslogServer {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("syslog server: %v", err)
	}
	s := &syslogServer{port: pc.LocalAddr().(*net.UDPAddr).Port}
	done := make(chan struct{})
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	return s
}

// index is the position of the first message matching pattern, or -1.
func (s *syslogServer) index(pattern string) int {
	re := regexp.MustCompile(pattern)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range s.msgs {
		if re.MatchString(m) {
			return i
		}
	}
	return -1
}

// wait waits up to timeout for a message matching pattern.
func (s *syslogServer) wait(t *testing.T, pattern string, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if i := s.index(pattern); i >= 0 {
			return i
		}
		if time.Now().After(deadline) {
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("no syslog message matching %q within %v; got %d:\n  %s", pattern, timeout, len(s.msgs), strings.Join(s.msgs, "\n  "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// post sends an empty POST to url and fails the test on an error.
func post(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}

// outliveWatchdog keeps the machine running past twice the watchdog's
// timeout from when it was armed, then checks that it still runs and
// answers.
func outliveWatchdog(t *testing.T, m *Machine, armed string, base string) {
	t.Helper()
	t.Logf("watchdog armed at %v of guest time: %s", stamp(t, armed), armed)
	select {
	case <-m.VM.Done():
		t.Fatalf("the machine ended (%v) within twice the watchdog timeout; last lines:\n%s", m.VM.Wait(), m.tail())
	case <-time.After(2*watchdogTimeout + 5*time.Second):
	}
	if got := string(httpGet(t, base+"/")); !strings.Contains(got, "testapp on e2e") {
		t.Fatalf("GET / after twice the watchdog timeout = %q", got)
	}
}

// askStop has the app ask the agent (package guest) to stop the machine as
// what says, and checks that the agent got the request, the app its stop,
// the watchdog was disarmed and the machine ended as want.
func askStop(t *testing.T, m *Machine, base, what, reason, verb string, want qemu.ExitReason) {
	t.Helper()
	ctx := context.Background()
	post(t, base+"/"+what)
	// The agent's lines come in this order; the app's interleave with
	// them in either order on the one console (CI once saw "shutdown: app
	// asked to reboot" before "testapp: asking the agent to reboot"), so
	// they are checked once the machine has ended.
	m.Expect(ctx, `tinyboot: .*shutdown: `+reason, stepWait)
	m.Expect(ctx, `tinyboot: .*shutdown: `+verb, stepWait)
	m.Expect(ctx, `tinyboot: .*watchdog: disarmed`, stepWait)
	if got := m.WaitExit(exitWait); got != want {
		t.Fatalf("machine ended with %s, want %s", got, want)
	}
	m.requireLines(`testapp: asking the agent to `+what, `testapp: context cancelled`)
}

// TestRuntimeNetwork boots twice with QEMU's watchdog device:
//
//   - DHCP with remote syslog: the host's UDP listener gets the agent's
//     lines from before the lease (from the first one on) and the app's
//     stdout; the app's guest.Reboot() ends in a clean reboot.
//   - static addresses with DHCP off (IPv4 and IPv6 in QEMU's fec0::/64,
//     with both default routes): the app answers on 10.0.2.15 through a
//     forwarded port, with the static route and name server;
//     its guest.PowerOff() ends in a clean power-off.
//
// Both outlive twice the watchdog timeout while the agent pings it, and
// the final power-off or reboot is the guest's own, not the watchdog's.
func TestRuntimeNetwork(t *testing.T) {
	ctx := context.Background()
	spec := fmt.Sprintf("watchdog: {timeout: %s}\n", watchdogTimeout)
	app := imageOpts{Args: []string{"-listen", ":8080"}}

	t.Run("syslog-reboot", func(t *testing.T) {
		timeScenario(t)
		logs := startSyslog(t)
		text := testSpecYAML(t, app) + spec + fmt.Sprintf("log: {syslog: \"udp://10.0.2.2:%d\"}\n", logs.port)
		img := buildImage(t, text, "")
		port := freePort(t)
		m := boot(t, qemu.Config{
			Image:     img,
			Publish:   []qemu.PortForward{{Host: uint16(port), Guest: 8080}},
			ExtraArgs: watchdogQEMU,
		})
		m.Expect(ctx, `tinyboot: .*log: sending to syslog udp://10\.0\.2\.2:\d+`, bootWait)
		armed := m.Expect(ctx, `tinyboot: .*watchdog: armed /dev/watchdog \(.*, timeout 10s\)`, bootWait)
		m.Expect(ctx, `tinyboot: .*network: eth0: leased 10\.0\.2\.15/24`, bootWait)
		expectApp(t, m)
		m.Expect(ctx, `testapp: listening on :8080`, stepWait)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)

		// The lines before the lease were sent once it was there.
		first := logs.wait(t, `^<30>1 \S+ e2e tinyboot 1 - - setup: mounted filesystems in `, stepWait)
		mods := logs.wait(t, `^<30>1 \S+ e2e tinyboot 1 - - modules: loaded \d+ of \d+`, stepWait)
		leased := logs.wait(t, `^<30>1 \S+ e2e tinyboot 1 - - network: eth0: leased 10\.0\.2\.15/24`, stepWait)
		ready := logs.wait(t, `^<14>1 \S+ e2e e2e - - - testapp: ready$`, stepWait)
		if !(first < mods && mods < leased && leased < ready) {
			t.Errorf("syslog order: setup %d, modules %d, lease %d, app %d; want increasing", first, mods, leased, ready)
		}
		if i := logs.index(`dropped \d+ lines`); i >= 0 {
			t.Errorf("syslog lost early lines: message %d", i)
		}

		outliveWatchdog(t, m, armed, base)
		askStop(t, m, base, "reboot", "app asked to reboot", "rebooting", qemu.ExitReboot)
		logs.wait(t, `tinyboot 1 - - shutdown: rebooting$`, stepWait)
	})

	t.Run("static-poweroff", func(t *testing.T) {
		timeScenario(t)
		text := testSpecYAML(t, app) + spec + `network:
  dhcp: false
  interfaces:
    - name: eth0
      addresses: [10.0.2.15/24, "fec0::15/64"]
      gateway: 10.0.2.2
      gateway6: "fec0::2"
      dns: [10.0.2.3]
      mtu: 1400
`
		img := buildImage(t, text, "")
		port := freePort(t)
		m := boot(t, qemu.Config{
			Image:     img,
			Publish:   []qemu.PortForward{{Host: uint16(port), Guest: 8080}},
			ExtraArgs: watchdogQEMU,
		})
		armed := m.Expect(ctx, `tinyboot: .*watchdog: armed /dev/watchdog \(.*, timeout 10s\)`, bootWait)
		m.Expect(ctx, `tinyboot: .*network: eth0: static 10\.0\.2\.15/24 fec0::15/64 via 10\.0\.2\.2 fec0::2 dns 10\.0\.2\.3 mtu 1400$`, bootWait)
		expectApp(t, m)
		m.Expect(ctx, `testapp: addr eth0 10\.0\.2\.15/24`, stepWait)
		m.Expect(ctx, `testapp: route default via 10\.0\.2\.2 dev eth0`, stepWait)
		m.Expect(ctx, `testapp: nameserver 10\.0\.2\.3`, stepWait)
		m.Expect(ctx, `testapp: listening on :8080`, stepWait)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		if got := string(httpGet(t, base+"/")); !strings.Contains(got, "testapp on e2e") {
			t.Fatalf("GET / = %q", got)
		}
		outliveWatchdog(t, m, armed, base)
		askStop(t, m, base, "poweroff", "app asked to power off", "powering off", qemu.ExitPoweroff)
		m.refuseLines(`network: .*leased`, `network: no lease`)
	})
}
