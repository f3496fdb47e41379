package agent

import (
	"os"
	"testing"
)

func TestIsLiveUserProcess(t *testing.T) {
	tests := []struct {
		stat string
		want bool
	}{
		{"123 (hello) S 1 123 123 0 -1 4194560 100 0 0 0", true},
		{"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0", false},      // PF_KTHREAD
		{"77 (app) Z 1 77 77 0 -1 4227332 0 0 0 0", false},        // zombie: files closed
		{"9 (a (weird) name) R 1 9 9 0 -1 4194304 0 0 0 0", true}, // comm with ')' and spaces
		{"garbage", false},
		{"5 (x) S 1", false},
	}
	for _, tt := range tests {
		if got := isLiveUserProcess(tt.stat); got != tt.want {
			t.Errorf("isLiveUserProcess(%q) = %v, want %v", tt.stat, got, tt.want)
		}
	}
}

// On the test machine itself there are user processes (this one) and
// kernel threads; Leftovers must count this process and no kernel thread.
func TestLeftoversSeesThisProcess(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc")
	}
	if !isLiveUserProcess(string(b)) {
		t.Fatalf("this process not counted: %q", b)
	}
	if b, err := os.ReadFile("/proc/2/stat"); err == nil && isLiveUserProcess(string(b)) {
		t.Errorf("kthreadd counted as a user process: %q", b)
	}
	n, err := (&Linux{}).Leftovers()
	if err != nil || n < 1 {
		t.Fatalf("Leftovers() = %d, %v", n, err)
	}
}
