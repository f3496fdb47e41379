package capability

import (
	"slices"
	"testing"
)

func TestParseAndDrop(t *testing.T) {
	tests := []struct {
		names []string
		last  int
		want  Set
		drop  []int
	}{
		{nil, 3, 0, []int{0, 1, 2, 3}},
		{[]string{"CAP_NET_BIND_SERVICE"}, 12, 1 << 10, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12}},
		{[]string{"CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"}, 40, 1 | 1<<40, func() []int {
			var d []int
			for c := 1; c < 40; c++ {
				d = append(d, c)
			}
			return d
		}()},
		// An older kernel knows fewer: nothing past its last is dropped.
		{[]string{"CAP_BPF"}, 2, 1 << 39, []int{0, 1, 2}},
		{[]string{"CAP_KILL", "CAP_KILL"}, 5, 1 << 5, []int{0, 1, 2, 3, 4}},
	}
	for _, tc := range tests {
		s, err := Parse(tc.names)
		if err != nil {
			t.Fatalf("Parse(%v): %v", tc.names, err)
		}
		if s != tc.want {
			t.Errorf("Parse(%v) = %#x, want %#x", tc.names, s, tc.want)
		}
		if got := s.Drop(tc.last); !slices.Equal(got, tc.drop) {
			t.Errorf("%v.Drop(%d) = %v, want %v", tc.names, tc.last, got, tc.drop)
		}
	}
}

func TestParseUnknown(t *testing.T) {
	if _, err := Parse([]string{"CAP_NET_BIND_SERVICE", "CAP_FLY"}); err == nil || err.Error() != `unknown capability "CAP_FLY"` {
		t.Errorf("err = %v", err)
	}
}

func TestWordsAndString(t *testing.T) {
	s := Set(1<<10 | 1<<40)
	if w := s.Words(); w != [2]uint32{1 << 10, 1 << 8} {
		t.Errorf("Words = %#x", w)
	}
	if got := s.String(); got != "CAP_NET_BIND_SERVICE,CAP_CHECKPOINT_RESTORE" {
		t.Errorf("String = %q", got)
	}
	if got := Set(0).String(); got != "none" {
		t.Errorf("String = %q", got)
	}
}

// TestNamesAreTheKernels pins a few numbers from capability.h.
func TestNamesAreTheKernels(t *testing.T) {
	for name, want := range map[string]int{"CAP_CHOWN": 0, "CAP_NET_BIND_SERVICE": 10, "CAP_SYS_ADMIN": 21, "CAP_SETFCAP": 31, "CAP_CHECKPOINT_RESTORE": 40} {
		if got, ok := Lookup(name); !ok || got != want {
			t.Errorf("Lookup(%s) = %d, %v; want %d", name, got, ok, want)
		}
	}
}
