package kmod

import (
	"reflect"
	"testing"
)

func TestNeeds(t *testing.T) {
	x, err := buildIndex([]mod{
		{name: "crc32c_generic", aliases: []string{"crypto-crc32c"}},
		{name: "crc32c_intel", aliases: []string{"crypto-crc32c"}},
		{name: "zstd_compress"},
		{name: "libcrc32c", softdep: "pre: crc32c"},
		{name: "btrfs", depends: "libcrc32c,zstd-compress,mbcache", softdep: "pre: crypto-crc32c no-such-thing post: xxhash_generic"},
		{name: "xxhash_generic"},
		{name: "self", softdep: "pre: self"},
	}, "mbcache")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want []string
	}{
		// softdep pre by alias (both providers), depends= with '-' for
		// '_', built-in and unknown names and softdep post left out.
		{"btrfs", []string{"crc32c_generic", "crc32c_intel", "libcrc32c", "zstd_compress"}},
		{"libcrc32c", nil}, // "crc32c" names nothing here
		{"self", nil},
		{"zstd_compress", nil},
	}
	for _, tt := range tests {
		m, ok := x.Module(tt.name)
		if !ok {
			t.Fatalf("no module %s", tt.name)
		}
		if got := x.Needs(*m); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Needs(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
