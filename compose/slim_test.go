package compose

import "testing"

func TestModulesMaySlim(t *testing.T) {
	for _, tt := range []struct {
		secureBoot bool
		cmdline    string
		want       bool
	}{
		{false, "quiet panic=10 console=ttyS0", true},
		{true, "quiet panic=10 console=ttyS0", false},
		{false, "quiet module.sig_enforce=1", false},
		{false, "lockdown=integrity console=ttyS0", false},
		{false, "", true},
	} {
		if got := modulesMaySlim(tt.secureBoot, tt.cmdline); got != tt.want {
			t.Errorf("modulesMaySlim(%v, %q) = %v, want %v", tt.secureBoot, tt.cmdline, got, tt.want)
		}
	}
}
