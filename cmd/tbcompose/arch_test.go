package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/spec"
)

func TestOverrideArch(t *testing.T) {
	tests := []struct {
		flag    []string
		want    spec.Arches
		wantErr string
	}{
		{[]string{"arm64"}, spec.Arches{"arm64"}, ""},
		{[]string{"amd64", "arm64"}, spec.Arches{"amd64", "arm64"}, ""},
		{[]string{"riscv64"}, nil, `--arch: unknown architecture "riscv64"; want one of amd64, arm64`},
		{[]string{"arm64", "arm64"}, nil, "--arch: arm64 is named twice"},
	}
	for _, tt := range tests {
		s := &spec.Spec{Arch: spec.Arches{"amd64"}}
		err := overrideArch(s, tt.flag)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("--arch %v: %v, want %q", tt.flag, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(s.Arch, tt.want) {
			t.Errorf("--arch %v: arch %v, %v; want %v", tt.flag, s.Arch, err, tt.want)
		}
	}
}
