package uki

import (
	"bytes"
	"testing"
)

func TestIsHeaderPadding(t *testing.T) {
	nop := []byte{0x1f, 0x20, 0x03, 0xd5}
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"zeros", make([]byte, 80), true},
		{"aarch64 nops", bytes.Repeat(nop, 20), true},
		{"nops then zeros", append(bytes.Repeat(nop, 10), make([]byte, 40)...), true},
		{"data", append(bytes.Repeat(nop, 19), 1, 2, 3, 4), false},
		{"nop cut short", append(bytes.Repeat(nop, 19), 0x1f, 0x20), false},
		{"misaligned nop", append([]byte{0, 0}, bytes.Repeat(nop, 19)...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isHeaderPadding(tt.b); got != tt.want {
				t.Errorf("isHeaderPadding = %v, want %v", got, tt.want)
			}
		})
	}
}
