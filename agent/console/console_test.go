package console

import (
	"bytes"
	"testing"
	"time"
)

func TestPrintf(t *testing.T) {
	tests := []struct {
		up   time.Duration
		want string
	}{
		{1234 * time.Millisecond, "tinyboot: [     1.234] modules: loaded 3 of 4 in 180ms\n"},
		{0, "tinyboot: [     0.000] modules: loaded 3 of 4 in 180ms\n"},
		{12345*time.Second + 6*time.Millisecond, "tinyboot: [ 12345.006] modules: loaded 3 of 4 in 180ms\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		l := New(&b, func() time.Duration { return tt.up })
		l.Printf("modules: loaded %d of %d in %s", 3, 4, Dur(180*time.Millisecond+400*time.Microsecond))
		if b.String() != tt.want {
			t.Errorf("got %q, want %q", b.String(), tt.want)
		}
	}
}

func TestUptimeAdvances(t *testing.T) {
	a := Uptime()
	if a <= 0 {
		t.Fatalf("uptime %v", a)
	}
	time.Sleep(2 * time.Millisecond)
	if b := Uptime(); b <= a {
		t.Fatalf("uptime went from %v to %v", a, b)
	}
}
