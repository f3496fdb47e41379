package qga

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// update rewrites testdata/qemu-ga.json from a live qemu-ga:
//
//	go test ./agent/qga -run TestRecordedExchanges -update
var update = flag.Bool("update", false, "record the exchanges from a live qemu-ga into testdata")

const recordingPath = "testdata/qemu-ga.json"

// exchange is one conversation a host holds with the agent. The replies
// are compared by shape, as a client reads them: answers before the
// delimited sync answer that a reset byte provokes are discarded errors.
type exchange struct {
	name string
	send string
	// sameDesc: the error's text is part of the contract, not just its
	// class.
	sameDesc bool
	// resync: the client resets with 0xFF and discards errors until the
	// delimited answer, so only "some GenericErrors, then this" counts.
	resync bool
}

// endMarker ends every exchange: a delimited sync whose answer tells the
// reader the exchange's replies are complete.
const endMarker = 987654321

var exchanges = []exchange{
	{name: "sync-delimited", send: `{"execute":"guest-sync-delimited","arguments":{"id":1234}}` + "\n"},
	{name: "sync", send: `{"execute":"guest-sync","arguments":{"id":99}}` + "\n"},
	{name: "ping-with-id", send: `{"execute":"guest-ping","id":"abc"}` + "\n"},
	{name: "two-on-one-line", send: `{"execute":"guest-ping"}{"execute":"guest-sync","arguments":{"id":7}}` + "\n"},
	{name: "multi-line", send: "{\"execute\":\n \"guest-ping\"\n}\n"},
	{name: "unknown-command", send: `{"execute":"guest-no-such-command"}` + "\n", sameDesc: true},
	{name: "malformed-then-reset", send: `{"execute": guest-ping}` + "\n\xff" + `{"execute":"guest-sync-delimited","arguments":{"id":5}}` + "\n", resync: true},
	{name: "half-then-reset", send: `{"execute":"guest-ping"` + "\n\xff" + `{"execute":"guest-sync-delimited","arguments":{"id":6}}` + "\n", resync: true},
	{name: "garbage", send: "garbage\n", sameDesc: true},
	{name: "array", send: "[1,2]\n", sameDesc: true},
	{name: "unexpected-member", send: `{"foo":1}` + "\n", sameDesc: true},
	{name: "execute-not-string", send: `{"execute":5}` + "\n", sameDesc: true},
	{name: "arguments-not-object", send: `{"execute":"guest-ping","arguments":[]}` + "\n", sameDesc: true},
	{name: "sync-without-id", send: `{"execute":"guest-sync"}` + "\n", sameDesc: true},
	{name: "sync-id-not-integer", send: `{"execute":"guest-sync","arguments":{"id":"x"}}` + "\n", sameDesc: true},
	{name: "unexpected-parameter", send: `{"execute":"guest-ping","arguments":{"x":1}}` + "\n", sameDesc: true},
	{name: "info", send: `{"execute":"guest-info"}` + "\n"},
	{name: "osinfo", send: `{"execute":"guest-get-osinfo"}` + "\n"},
	{name: "host-name", send: `{"execute":"guest-get-host-name"}` + "\n"},
	{name: "time", send: `{"execute":"guest-get-time"}` + "\n"},
	{name: "interfaces", send: `{"execute":"guest-network-get-interfaces"}` + "\n"},
	{name: "fsinfo", send: `{"execute":"guest-get-fsinfo"}` + "\n"},
	{name: "fsfreeze-status", send: `{"execute":"guest-fsfreeze-status"}` + "\n"},
}

// reply is one answer line.
type reply struct {
	Delimited bool   `json:"delimited"` // preceded by 0xFF
	JSON      string `json:"json"`
}

// splitReplies cuts raw output into lines and drops the end marker's
// answer and everything after it.
func splitReplies(t *testing.T, raw []byte) []reply {
	t.Helper()
	var out []reply
	for _, line := range bytes.SplitAfter(raw, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		r := reply{}
		if line[0] == Sentinel {
			r.Delimited = true
			line = line[1:]
		}
		r.JSON = strings.TrimSpace(string(line))
		if r.Delimited && r.JSON == fmt.Sprintf(`{"return": %d}`, endMarker) || r.JSON == fmt.Sprintf(`{"return":%d}`, endMarker) {
			return out
		}
		out = append(out, r)
	}
	t.Fatalf("no end marker in %q", raw)
	return nil
}

func endBytes() string {
	return fmt.Sprintf(`{"execute":"guest-sync-delimited","arguments":{"id":%d}}`+"\n", endMarker)
}

// fakeHost answers with fixed facts.
type fakeHost struct {
	frozen, freezes, thaws int
	shutdowns              []string
	panicIn                string
}

func (h *fakeHost) Hostname() (string, error) {
	if h.panicIn == "hostname" {
		panic("boom")
	}
	return "tinyboot-test", nil
}

func (h *fakeHost) OSInfo() (OSInfo, error) {
	return OSInfo{ID: "tinyboot", Name: "tinyboot", PrettyName: "tinyboot", KernelRelease: "6.1.0-test", KernelVersion: "#1 SMP", Machine: "x86_64"}, nil
}

func (h *fakeHost) Interfaces() ([]Interface, error) {
	return []Interface{
		{Name: "lo", HardwareAddress: "00:00:00:00:00:00", IPAddresses: []IPAddress{{"ipv4", "127.0.0.1", 8}, {"ipv6", "::1", 128}}},
		{Name: "eth0", HardwareAddress: "52:54:00:12:34:56", IPAddresses: []IPAddress{{"ipv4", "10.0.2.15", 24}}},
	}, nil
}

func (h *fakeHost) Filesystems() ([]Filesystem, error) {
	return []Filesystem{{Name: "vda", Mountpoint: "/persistent", Type: "btrfs", TotalBytes: 1 << 30, UsedBytes: 1 << 20,
		Disk: []DiskAddress{{Dev: "/dev/vda", BusType: "virtio"}}}}, nil
}

func (h *fakeHost) Freeze() (int, error) { h.freezes++; h.frozen = 1; return 1, nil }
func (h *fakeHost) Thaw() (int, error)   { h.thaws++; n := h.frozen; h.frozen = 0; return n, nil }
func (h *fakeHost) Shutdown(mode string) error {
	h.shutdowns = append(h.shutdowns, mode)
	return nil
}
func (h *fakeHost) Now() time.Time { return time.Unix(1700000000, 5) }

func newTestServer(h Host) *Server {
	return New(h, func(string, ...any) {}, time.Minute)
}

// TestRecordedExchanges holds our answers against qemu-ga's, recorded in
// testdata (and, with -update, recorded afresh).
func TestRecordedExchanges(t *testing.T) {
	if *update {
		recordFromQemuGA(t)
	}
	b, err := os.ReadFile(recordingPath)
	if err != nil {
		t.Fatalf("%v (record with -update; qemu-ga is in Debian's qemu-guest-agent)", err)
	}
	var recorded map[string][]reply
	if err := json.Unmarshal(b, &recorded); err != nil {
		t.Fatalf("%s: %v", recordingPath, err)
	}
	for _, ex := range exchanges {
		t.Run(ex.name, func(t *testing.T) {
			want, ok := recorded[ex.name]
			if !ok {
				t.Fatalf("%s has no recording of %q; record with -update", recordingPath, ex.name)
			}
			s := newTestServer(&fakeHost{})
			got := splitReplies(t, s.HandleBytes([]byte(ex.send+endBytes())))
			compareReplies(t, ex, got, want)
		})
	}
}

// TestLiveQemuGA runs the exchanges against the qemu-ga installed here,
// when it is: the recording must still match the reference.
func TestLiveQemuGA(t *testing.T) {
	if _, err := exec.LookPath("qemu-ga"); err != nil {
		if _, err := os.Stat("/usr/sbin/qemu-ga"); err != nil {
			if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
				t.Fatal("qemu-ga missing (CI=true); install with: apt-get install qemu-guest-agent")
			}
			t.Skip("qemu-ga missing; install with: apt-get install qemu-guest-agent")
		}
	}
	live := runQemuGA(t)
	for _, ex := range exchanges {
		t.Run(ex.name, func(t *testing.T) {
			s := newTestServer(&fakeHost{})
			got := splitReplies(t, s.HandleBytes([]byte(ex.send+endBytes())))
			compareReplies(t, ex, got, live[ex.name])
		})
	}
}

func qemuGAPath() string {
	if p, err := exec.LookPath("qemu-ga"); err == nil {
		return p
	}
	return "/usr/sbin/qemu-ga"
}

// runQemuGA starts qemu-ga on a unix socket and holds every exchange
// with it. Commands that act on the machine are blocked: it runs on the
// test's host.
func runQemuGA(t *testing.T) map[string][]reply {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "qga.sock")
	cmd := exec.Command(qemuGAPath(), "-m", "unix-listen", "-p", sock, "-t", dir,
		"-b", "guest-shutdown,guest-fsfreeze-freeze,guest-fsfreeze-freeze-list,guest-fsfreeze-thaw,guest-exec,guest-file-open,guest-set-time,guest-set-user-password,guest-suspend-disk,guest-suspend-ram,guest-suspend-hybrid,guest-set-vcpus,guest-set-memory-blocks")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start qemu-ga: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var conn net.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			conn = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect to qemu-ga: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	out := map[string][]reply{}
	for _, ex := range exchanges {
		if _, err := conn.Write([]byte(ex.send + endBytes())); err != nil {
			t.Fatalf("%s: write: %v", ex.name, err)
		}
		var raw []byte
		for {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, err := rd.ReadBytes('\n')
			if err != nil {
				t.Fatalf("%s: read: %v (so far %q)", ex.name, err, raw)
			}
			raw = append(raw, line...)
			if bytes.Equal(bytes.TrimSpace(line), []byte(fmt.Sprintf("\xff{\"return\": %d}", endMarker))) {
				break
			}
		}
		out[ex.name] = splitReplies(t, raw)
	}
	return out
}

func recordFromQemuGA(t *testing.T) {
	t.Helper()
	live := runQemuGA(t)
	// Only shapes are compared, so the recording keeps none of the
	// recording machine's facts (its name, addresses, disks).
	for _, ex := range exchanges {
		if strings.HasPrefix(ex.name, "sync") {
			continue
		}
		for i, r := range live[ex.name] {
			var m map[string]any
			if err := json.Unmarshal([]byte(r.JSON), &m); err != nil {
				t.Fatalf("%s: %q: %v", ex.name, r.JSON, err)
			}
			if ret, ok := m["return"]; ok {
				m["return"] = scrub(ret)
				b, _ := json.Marshal(m)
				live[ex.name][i].JSON = string(b)
			}
		}
	}
	b, err := json.MarshalIndent(live, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(recordingPath, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// scrub replaces strings and numbers in v by fixed ones of the same type.
func scrub(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = scrub(e)
		}
	case []any:
		for i, e := range x {
			x[i] = scrub(e)
		}
	case string:
		if x == "thawed" || x == "frozen" {
			return x
		}
		return "x"
	case float64:
		return 0
	}
	return v
}

// compareReplies checks got has the shape of want.
func compareReplies(t *testing.T, ex exchange, got, want []reply) {
	t.Helper()
	if ex.resync {
		got, want = afterResync(t, "ours", got), afterResync(t, "qemu-ga", want)
	}
	if len(got) != len(want) {
		t.Fatalf("%d replies, qemu-ga gives %d:\n ours: %v\n theirs: %v", len(got), len(want), got, want)
	}
	for i := range got {
		if got[i].Delimited != want[i].Delimited {
			t.Errorf("reply %d: delimited %v, qemu-ga %v", i, got[i].Delimited, want[i].Delimited)
		}
		var g, w map[string]any
		if err := json.Unmarshal([]byte(got[i].JSON), &g); err != nil {
			t.Fatalf("reply %d %q: %v", i, got[i].JSON, err)
		}
		if err := json.Unmarshal([]byte(want[i].JSON), &w); err != nil {
			t.Fatalf("recorded reply %d %q: %v", i, want[i].JSON, err)
		}
		if gk, wk := sortedKeys(g), sortedKeys(w); !reflect.DeepEqual(gk, wk) {
			t.Errorf("reply %d: members %v, qemu-ga %v (%s vs %s)", i, gk, wk, got[i].JSON, want[i].JSON)
			continue
		}
		if we, ok := w["error"].(map[string]any); ok {
			ge := g["error"].(map[string]any)
			if ge["class"] != we["class"] {
				t.Errorf("reply %d: class %v, qemu-ga %v", i, ge["class"], we["class"])
			}
			if ex.sameDesc && ge["desc"] != we["desc"] {
				t.Errorf("reply %d: desc %q, qemu-ga %q", i, ge["desc"], we["desc"])
			}
			continue
		}
		if id, ok := w["id"]; ok && !reflect.DeepEqual(g["id"], id) {
			t.Errorf("reply %d: id %v, qemu-ga %v", i, g["id"], id)
		}
		if msg := subShape("return", g["return"], w["return"]); msg != "" {
			t.Errorf("reply %d: %s\n ours:   %s\n theirs: %s", i, msg, got[i].JSON, want[i].JSON)
		}
		// Values that are the client's own (sync ids) must come back.
		if strings.HasPrefix(ex.name, "sync") && !reflect.DeepEqual(g["return"], w["return"]) {
			t.Errorf("reply %d: return %v, qemu-ga %v", i, g["return"], w["return"])
		}
	}
}

// afterResync checks the replies up to the delimited one are errors, as
// a client discards them, and returns the rest.
func afterResync(t *testing.T, who string, rs []reply) []reply {
	t.Helper()
	for i, r := range rs {
		if r.Delimited {
			if i == 0 {
				t.Errorf("%s: no error for the malformed input before the delimited answer", who)
			}
			return rs[i:]
		}
		var m map[string]map[string]any
		if err := json.Unmarshal([]byte(r.JSON), &m); err != nil || m["error"]["class"] != ClassGeneric {
			t.Errorf("%s: before the delimited answer: %s, want a GenericError", who, r.JSON)
		}
	}
	t.Fatalf("%s: no delimited answer in %v", who, rs)
	return nil
}

// subShape reports how got differs in shape from want: the same JSON
// types, and every member got has, want has too (ours may leave optional
// members out, never invent them).
func subShape(path string, got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: %T, qemu-ga an object", path, got)
		}
		for _, k := range sortedKeys(g) {
			wv, ok := w[k]
			if !ok {
				return fmt.Sprintf("%s: member %q that qemu-ga does not have", path, k)
			}
			if msg := subShape(path+"."+k, g[k], wv); msg != "" {
				return msg
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: %T, qemu-ga an array", path, got)
		}
		if len(w) == 0 {
			return ""
		}
		// Elements are alike; hold each of ours against the union of theirs.
		union := map[string]any{}
		for _, e := range w {
			if m, ok := e.(map[string]any); ok {
				for k, v := range m {
					if _, seen := union[k]; !seen {
						union[k] = v
					}
				}
			}
		}
		for i, e := range g {
			ref := w[0]
			if _, ok := ref.(map[string]any); ok {
				ref = union
			}
			if msg := subShape(fmt.Sprintf("%s[%d]", path, i), e, ref); msg != "" {
				return msg
			}
		}
	default:
		if reflect.TypeOf(got) != reflect.TypeOf(want) {
			return fmt.Sprintf("%s: %T, qemu-ga %T", path, got, want)
		}
	}
	return ""
}
