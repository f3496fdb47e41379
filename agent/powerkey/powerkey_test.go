package powerkey

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func event(typ, code uint16, value int32) []byte {
	b := make([]byte, eventSize)
	binary.LittleEndian.PutUint16(b[16:], typ)
	binary.LittleEndian.PutUint16(b[18:], code)
	binary.LittleEndian.PutUint32(b[20:], uint32(value))
	return b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestPressed(t *testing.T) {
	syn := event(0, 0, 0)
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"press", cat(event(evKey, keyPower, 1), syn), true},
		{"press after other keys", cat(event(evKey, 30, 1), syn, event(evKey, keyPower, 1)), true},
		{"release only", cat(event(evKey, keyPower, 0), syn), false},
		{"autorepeat", event(evKey, keyPower, 2), false},
		{"another key", event(evKey, 30, 1), false},
		{"not a key event", event(0x04, keyPower, 1), false},
		{"partial", event(evKey, keyPower, 1)[:eventSize-1], false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		if got := Pressed(tt.b); got != tt.want {
			t.Errorf("%s: Pressed = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestListen finds an event node that appears after Listen started and
// reports the press written to it.
func TestListen(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pressed := make(chan struct{}, 1)
	sys := t.TempDir()
	// event1 is ACPI's power button: its presses come as ACPI events.
	if err := os.MkdirAll(filepath.Join(sys, "event1", "device"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sys, "event1", "device", "phys"), []byte("LNXPWRBN/button/input0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := mkfifo(filepath.Join(dir, "event1")); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	var mu sync.Mutex
	var lines []string
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	}
	go Listen(ctx, dir, sys, 10*time.Millisecond, logf, func() { pressed <- struct{}{} })
	node := filepath.Join(dir, "event0")
	// A FIFO stands in for the evdev node: reads block until written.
	if err := mkfifo(node); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	w, err := os.OpenFile(node, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(cat(event(evKey, 30, 1), event(evKey, keyPower, 1))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pressed:
	case <-time.After(10 * time.Second):
		t.Fatal("no press reported")
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(lines, "\n"); !strings.Contains(got, "watching "+node) || strings.Contains(got, "event1") {
		t.Errorf("log %q: want event0 watched and the ACPI button left alone", got)
	}
}
