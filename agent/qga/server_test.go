package qga

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// answer runs one command line and decodes its single answer.
func answer(t *testing.T, s *Server, line string) map[string]any {
	t.Helper()
	out := s.HandleBytes([]byte(line + "\n"))
	if len(out) > 0 && out[0] == Sentinel {
		out = out[1:]
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s: answer %q: %v", line, out, err)
	}
	return m
}

func errorClass(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["class"].(string)
	return c
}

func TestFreezeThaw(t *testing.T) {
	h := &fakeHost{}
	s := newTestServer(h)
	steps := []struct {
		send       string
		wantReturn any
		wantClass  string
	}{
		{`{"execute":"guest-fsfreeze-status"}`, "thawed", ""},
		{`{"execute":"guest-fsfreeze-freeze"}`, float64(1), ""},
		{`{"execute":"guest-fsfreeze-status"}`, "frozen", ""},
		{`{"execute":"guest-fsfreeze-freeze"}`, nil, ClassCommandNotFound}, // disabled while frozen
		{`{"execute":"guest-ping"}`, map[string]any{}, ""},
		{`{"execute":"guest-fsfreeze-thaw"}`, float64(1), ""},
		{`{"execute":"guest-fsfreeze-thaw"}`, float64(0), ""},
		{`{"execute":"guest-fsfreeze-status"}`, "thawed", ""},
	}
	for i, st := range steps {
		m := answer(t, s, st.send)
		if st.wantClass != "" {
			if got := errorClass(m); got != st.wantClass {
				t.Errorf("step %d %s: %v, want error class %s", i, st.send, m, st.wantClass)
			}
			continue
		}
		if got, ok := m["return"]; !ok || !equalJSON(got, st.wantReturn) {
			t.Errorf("step %d %s: %v, want return %v", i, st.send, m, st.wantReturn)
		}
	}
	if h.freezes != 1 || h.thaws != 1 {
		t.Errorf("host froze %d and thawed %d times, want 1 and 1", h.freezes, h.thaws)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestThawTimeout: a host that freezes and never thaws does not keep the
// filesystems frozen past the timeout.
func TestThawTimeout(t *testing.T) {
	h := &fakeHost{}
	logs := make(chan string, 8)
	s := New(h, func(f string, a ...any) { logs <- f }, 50*time.Millisecond)
	answer(t, s, `{"execute":"guest-fsfreeze-freeze"}`)
	deadline := time.After(5 * time.Second)
	for s.isFrozen() {
		select {
		case <-deadline:
			t.Fatal("still frozen 5s after a 50ms thaw timeout")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if got := answer(t, s, `{"execute":"guest-fsfreeze-status"}`)["return"]; got != "thawed" {
		t.Errorf("status after the timeout = %v, want thawed", got)
	}
	s.mu.Lock()
	thaws := h.thaws
	s.mu.Unlock()
	if thaws != 1 {
		t.Errorf("host thawed %d times, want 1", thaws)
	}
}

func TestShutdown(t *testing.T) {
	tests := []struct {
		send      string
		wantMode  string // "" when refused
		wantClass string
	}{
		{`{"execute":"guest-shutdown"}`, "powerdown", ""},
		{`{"execute":"guest-shutdown","arguments":{"mode":"powerdown"}}`, "powerdown", ""},
		{`{"execute":"guest-shutdown","arguments":{"mode":"reboot"}}`, "reboot", ""},
		{`{"execute":"guest-shutdown","arguments":{"mode":"halt"}}`, "halt", ""},
		{`{"execute":"guest-shutdown","arguments":{"mode":"explode"}}`, "", ClassGeneric},
		{`{"execute":"guest-shutdown","arguments":{"mode":3}}`, "", ClassGeneric},
	}
	for _, tt := range tests {
		t.Run(tt.send, func(t *testing.T) {
			h := &fakeHost{}
			s := newTestServer(h)
			// Frozen filesystems are thawed before the shutdown starts.
			answer(t, s, `{"execute":"guest-fsfreeze-freeze"}`)
			out := s.HandleBytes([]byte(tt.send + "\n"))
			if tt.wantMode == "" {
				var m map[string]any
				if err := json.Unmarshal(out, &m); err != nil || errorClass(m) != tt.wantClass {
					t.Fatalf("answer %q, want a %s", out, tt.wantClass)
				}
				if len(h.shutdowns) != 0 {
					t.Errorf("shut down with %v", h.shutdowns)
				}
				return
			}
			if len(out) != 0 {
				t.Errorf("answer %q; guest-shutdown answers nothing on success", out)
			}
			if len(h.shutdowns) != 1 || h.shutdowns[0] != tt.wantMode {
				t.Errorf("shutdowns %v, want [%s]", h.shutdowns, tt.wantMode)
			}
			if h.frozen != 0 {
				t.Error("still frozen when shutting down")
			}
		})
	}
}

// TestNeverCrashes: a panicking host and hostile input end in error
// answers and the server keeps answering.
func TestNeverCrashes(t *testing.T) {
	s := newTestServer(&fakeHost{panicIn: "hostname"})
	if c := errorClass(answer(t, s, `{"execute":"guest-get-host-name"}`)); c != ClassGeneric {
		t.Errorf("panicking command: class %q, want %s", c, ClassGeneric)
	}
	inputs := map[string]string{
		"too long": `{"execute":"` + strings.Repeat("a", maxInput) + `"}`,
		"too deep": strings.Repeat("[", maxDepth+5) + strings.Repeat("]", maxDepth+5),
		"stray }":  `}`,
		"string":   `"guest-ping"`,
		"number":   `12`,
		"null id":  `{"execute":"guest-ping","id":null}`,
		"null":     `{"execute":"guest-ping","arguments":null}`,
	}
	for name, in := range inputs {
		out := s.HandleBytes([]byte(in + "\n" + `{"execute":"guest-ping"}` + "\n"))
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) < 2 || lines[len(lines)-1] != `{"return":{}}` {
			t.Errorf("%s: answers %q; want an answer, then the ping's", name, out)
		}
	}
}

func TestFramer(t *testing.T) {
	tests := []struct {
		in   string
		want []string // json or "err:"+desc
	}{
		{`{"a":"}"}`, []string{`{"a":"}"}`}},
		{`{"a":"\"}"}` + "\n", []string{`{"a":"\"}"}`}},
		{"{\n\"a\":\n1}", []string{"{\n\"a\":\n1}"}},
		{`{}{}`, []string{`{}`, `{}`}},
		{"{\"a\":\xff{}", []string{"err:JSON parse error, stray '\uFFFD'", `{}`}},
		{"abc {}", []string{"err:JSON parse error, invalid keyword 'abc'", `{}`}},
		{"true\n", []string{"err:QMP input must be a JSON object"}},
	}
	for _, tt := range tests {
		var f framer
		var got []string
		for _, pc := range f.feed([]byte(tt.in)) {
			if pc.json == nil {
				got = append(got, "err:"+pc.err)
			} else {
				got = append(got, string(pc.json))
			}
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("feed(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestServe holds a conversation over a socket pair, with the host end
// going away and coming back meanwhile as an EOF.
func TestServe(t *testing.T) {
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	s := newTestServer(&fakeHost{})
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, a, time.Millisecond) }()
	if _, err := io.WriteString(b, "{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":42}}\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "\xff{\"return\":42}\n" {
		t.Errorf("answer %q", got)
	}
	cancel()
	b.Close()
	select {
	case err := <-done:
		if err != nil && !strings.Contains(err.Error(), "closed") {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still runs after its context ended")
	}
}
