package watchdog

import (
	"path/filepath"
	"testing"
	"time"
)

func TestPingInterval(t *testing.T) {
	tests := []struct{ timeout, want time.Duration }{
		{60 * time.Second, 15 * time.Second},
		{time.Second, 250 * time.Millisecond},
		{0, time.Second},
		{200 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := PingInterval(tc.timeout); got != tc.want {
			t.Errorf("PingInterval(%v) = %v, want %v", tc.timeout, got, tc.want)
		}
	}
}

func TestOpenMissing(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "watchdog"), time.Minute); err == nil {
		t.Fatal("Open of a missing device succeeded")
	}
}
