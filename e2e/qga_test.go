package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/internal/qemu"
	"github.com/tinyboot/tinyboot/spec"
)

// guestAgentArgs attach a virtio-serial guest agent channel on a host
// unix socket, as libvirt, KubeVirt and Proxmox do.
func guestAgentArgs(sock string) []string {
	return []string{
		"-device", "virtio-serial",
		"-chardev", "socket,path=" + sock + ",server=on,wait=off,id=qga0",
		"-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
	}
}

// gaClient talks to a guest agent as a host does.
type gaClient struct {
	t    *testing.T
	conn net.Conn
	rd   *bufio.Reader
	id   int
}

func dialGuestAgent(t *testing.T, sock string) *gaClient {
	t.Helper()
	var conn net.Conn
	deadline := time.Now().Add(stepWait)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			conn = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect to the guest agent socket: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() { conn.Close() })
	return &gaClient{t: t, conn: conn, rd: bufio.NewReader(conn)}
}

// send writes raw bytes to the agent.
func (c *gaClient) send(b string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(b)); err != nil {
		c.t.Fatalf("write to the guest agent: %v", err)
	}
}

// line reads one answer line.
func (c *gaClient) line() []byte {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(stepWait))
	b, err := c.rd.ReadBytes('\n')
	if err != nil {
		c.t.Fatalf("read from the guest agent: %v (so far %q)", err, b)
	}
	return b
}

// sync resets the agent's parser and waits for its delimited answer,
// discarding what came before it: how a host starts a conversation. It
// returns the discarded lines.
func (c *gaClient) sync() []string {
	c.t.Helper()
	c.id++
	id := 1000 + c.id
	c.send(fmt.Sprintf("\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":%d}}\n", id))
	var skipped []string
	for {
		b := c.line()
		if i := bytes.IndexByte(b, 0xFF); i >= 0 {
			var m struct{ Return int }
			if err := json.Unmarshal(b[i+1:], &m); err != nil || m.Return != id {
				c.t.Fatalf("delimited answer %q, want return %d", b, id)
			}
			return skipped
		}
		skipped = append(skipped, string(b))
	}
}

// call runs a command and decodes its answer.
func (c *gaClient) call(cmd string, args any) map[string]json.RawMessage {
	c.t.Helper()
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(string(b) + "\n")
	return c.decode(c.line())
}

func (c *gaClient) decode(b []byte) map[string]json.RawMessage {
	c.t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("answer %q: %v", b, err)
	}
	return m
}

// ret returns a successful answer's value, failing the test on an error.
func (c *gaClient) ret(cmd string, args any, v any) {
	c.t.Helper()
	m := c.call(cmd, args)
	r, ok := m["return"]
	if !ok {
		c.t.Fatalf("%s: %s", cmd, m["error"])
	}
	if v != nil {
		if err := json.Unmarshal(r, v); err != nil {
			c.t.Fatalf("%s: return %s: %v", cmd, r, err)
		}
	}
}

func errClass(m map[string]json.RawMessage) string {
	var e struct{ Class string }
	_ = json.Unmarshal(m["error"], &e)
	return e.Class
}

// TestGuestAgent boots a machine with a guest agent channel and holds the
// conversations KubeVirt and Proxmox hold: sync, ping, info, addresses, a
// backup's freeze and thaw, bad input, and the graceful stop.
func TestGuestAgent(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	img := testImage(t, imageOpts{
		Args:       []string{"-tick", "1s"},
		Persistent: &spec.Persistent{Label: spec.DefaultLabel, FS: spec.FSBtrfs, Required: true},
	})
	disk := newDisk(t, spec.FSBtrfs, spec.DefaultLabel)
	sock := filepath.Join(t.TempDir(), "qga.sock")
	m := boot(t, qemu.Config{Image: img, Disks: []string{disk}, ExtraArgs: guestAgentArgs(sock)})
	ctx := context.Background()
	m.Expect(ctx, `tinyboot: .*qga: answering on /dev/vport\d+p\d+ \(org\.qemu\.guest_agent\.0\)`, bootWait)
	expectApp(t, m)
	m.Expect(ctx, `testapp: ready`, stepWait)
	m.Expect(ctx, `testapp: tick 1 written`, stepWait)

	c := dialGuestAgent(t, sock)
	c.sync()
	c.ret("guest-ping", nil, nil)

	var info struct {
		Version  string
		Commands []struct {
			Name    string
			Enabled bool
		} `json:"supported_commands"`
	}
	c.ret("guest-info", nil, &info)
	enabled := map[string]bool{}
	for _, cmd := range info.Commands {
		enabled[cmd.Name] = cmd.Enabled
	}
	for _, want := range []string{"guest-ping", "guest-shutdown", "guest-fsfreeze-freeze", "guest-fsfreeze-thaw", "guest-network-get-interfaces", "guest-get-fsinfo"} {
		if !enabled[want] {
			t.Errorf("guest-info: %s not supported and enabled (%+v)", want, info.Commands)
		}
	}

	var ifs []struct {
		Name string
		MAC  string `json:"hardware-address"`
		IPs  []struct {
			Type    string `json:"ip-address-type"`
			Address string `json:"ip-address"`
			Prefix  int
		} `json:"ip-addresses"`
	}
	found := false
	for deadline := time.Now().Add(stepWait); !found && time.Now().Before(deadline); time.Sleep(time.Second) {
		c.ret("guest-network-get-interfaces", nil, &ifs)
		for _, ifc := range ifs {
			for _, ip := range ifc.IPs {
				if ip.Type == "ipv4" && ip.Address == "10.0.2.15" && ip.Prefix == 24 && ifc.MAC != "" {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("guest-network-get-interfaces has no 10.0.2.15/24: %+v", ifs)
	}

	var fss []struct {
		Mountpoint string
		Type       string
	}
	c.ret("guest-get-fsinfo", nil, &fss)
	mounts := map[string]string{}
	for _, fs := range fss {
		mounts[fs.Mountpoint] = fs.Type
	}
	if mounts["/iso"] != "iso9660" || mounts["/persistent"] != "btrfs" {
		t.Errorf("guest-get-fsinfo: %+v, want /iso iso9660 and /persistent btrfs", fss)
	}

	// Bad input: errors, and the agent answers on.
	c.send(`{"execute": guest-ping}` + "\n")
	if skipped := c.sync(); len(skipped) == 0 {
		t.Error("malformed JSON got no error answer")
	} else if !regexp.MustCompile(`"class": ?"GenericError"`).MatchString(skipped[0]) {
		t.Errorf("malformed JSON answered %q, want a GenericError", skipped[0])
	}
	if cl := errClass(c.call("guest-no-such-command", nil)); cl != "CommandNotFound" {
		t.Errorf("unknown command: class %q, want CommandNotFound", cl)
	}
	c.ret("guest-ping", nil, nil)

	// A backup: while frozen, the app's writes wait; after the thaw they
	// complete.
	var n int
	c.ret("guest-fsfreeze-freeze", nil, &n)
	if n != 1 {
		t.Errorf("guest-fsfreeze-freeze froze %d filesystems, want 1 (/persistent)", n)
	}
	var status string
	c.ret("guest-fsfreeze-status", nil, &status)
	if status != "frozen" {
		t.Errorf("guest-fsfreeze-status = %q after a freeze", status)
	}
	// One tick starts writing and blocks; none completes.
	time.Sleep(4 * time.Second)
	writtenBefore := len(m.lines(`testapp: tick \d+ written`))
	writingBefore := len(m.lines(`testapp: tick \d+ writing`))
	time.Sleep(5 * time.Second)
	if got := len(m.lines(`testapp: tick \d+ written`)); got != writtenBefore {
		t.Errorf("%d tick writes completed while /persistent was frozen", got-writtenBefore)
	}
	if got := len(m.lines(`testapp: tick \d+ writing`)); got != writingBefore || writingBefore != writtenBefore+1 {
		t.Errorf("while frozen: %d ticks started, %d written, then %d started; want one write blocked", writingBefore, writtenBefore, got)
	}
	c.ret("guest-fsfreeze-thaw", nil, &n)
	if n != 1 {
		t.Errorf("guest-fsfreeze-thaw thawed %d filesystems, want 1", n)
	}
	blocked := fmt.Sprintf(`testapp: tick %d written`, writingBefore)
	m.Expect(ctx, blocked, stepWait)

	// The graceful stop KubeVirt and Proxmox ask for: no answer, the app
	// gets SIGTERM, the volume is unmounted, the machine powers off.
	c.send(`{"execute":"guest-shutdown","arguments":{"mode":"powerdown"}}` + "\n")
	m.Expect(ctx, `tinyboot: .*shutdown: guest-shutdown \(powerdown\)`, stepWait)
	m.Expect(ctx, `testapp: got SIGTERM`, stepWait)
	m.Expect(ctx, `testapp: finished`, stepWait)
	m.Expect(ctx, `tinyboot: .*shutdown: synced and unmounted /persistent`, stepWait)
	m.Expect(ctx, `tinyboot: .*shutdown: powering off`, stepWait)
	if got := m.WaitExit(exitWait); got != qemu.ExitPoweroff {
		t.Fatalf("machine ended with %s, want %s", got, qemu.ExitPoweroff)
	}
	m.refuseLines(`agent: panic`)
}
