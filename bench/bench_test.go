package main

import (
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   samples
		want time.Duration
	}{
		{nil, 0},
		{samples{5}, 5},
		{samples{9, 1, 5}, 5},
		{samples{4, 1, 3, 2}, 2}, // (2+3)/2 in integer nanoseconds
		{samples{10, 30, 20, 1000}, 25},
	} {
		if got := tc.in.median(); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseGuest(t *testing.T) {
	boot := []string{
		"BdsDxe: starting Boot0001",
		"tinyboot: [     6.969] setup: mounted filesystems in 279ms",
		"tinyboot: [    11.174] modules: loaded 45 of 48 in 4.127s",
		"tinyboot: [    11.608] boot: ready in 4.562s (modules 4.136s, storage 260ms, network 319ms, time 106ms)",
		"tinyboot: [    11.637] app: started /bin/hello (pid 142)",
		"hello: listening on :8080",
	}
	for _, tc := range []struct {
		name    string
		lines   []string
		want    guestTimes
		own     time.Duration
		wantErr bool
	}{
		{
			name:  "full boot",
			lines: boot,
			want: guestTimes{
				InitStart: 6690 * time.Millisecond, Setup: 279 * time.Millisecond,
				Ready: 4562 * time.Millisecond, Modules: 4136 * time.Millisecond,
				Storage: 260 * time.Millisecond, Network: 319 * time.Millisecond,
				Time: 106 * time.Millisecond, AppStarted: 11637 * time.Millisecond,
			},
			// 4.947s - 4.136s modules - 59ms DHCP beyond storage - 106ms SNTP
			own: 646 * time.Millisecond,
		},
		{name: "no app", lines: boot[:4], wantErr: true},
		{name: "no boot line", lines: []string{boot[1], boot[4]}, wantErr: true},
		{name: "bad duration", lines: []string{boot[1], "tinyboot: [ 1.000] boot: ready in x (modules 1s, storage 1s, network 1s, time 1s)", boot[4]}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := parseGuest(tc.lines)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if g != tc.want {
				t.Errorf("got %+v\nwant %+v", g, tc.want)
			}
			if own := g.AgentOwn(); own != tc.own {
				t.Errorf("AgentOwn = %v, want %v", own, tc.own)
			}
		})
	}
}
