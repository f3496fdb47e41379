package compose

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/tinyboot/tinyboot/internal/cache"
)

// TestCacheStaysUnderLimit builds 30 variants of an app in a row, as a day
// of edits would, into one cache with a small limit: after every build the
// cache fits, and what the last build used is still there (rebuilding it
// hits the cache for the ESP).
func TestCacheStaysUnderLimit(t *testing.T) {
	f := newErrFixture(t)
	ctx := context.Background()
	variant := func(i int) {
		t.Helper()
		f.write("app", append(x86Exec(""), fmt.Sprintf("variant %d %0200000d", i, i)...))
	}
	size := func() int64 {
		t.Helper()
		entries, err := cache.Open(f.opts.CacheDir).Entries()
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, e := range entries {
			n += e.Size
		}
		return n
	}
	variant(0)
	f.opts.CacheLimit = 1 << 40
	if _, err := Build(ctx, f.spec.WithDefaults(), f.opts); err != nil {
		t.Fatal(err)
	}
	one := size()
	// Room for one build and a half: without pruning, 30 variants need
	// about 30 times one build's ESP and app segment.
	f.opts.CacheLimit = one * 3 / 2
	var last *Result
	for i := 1; i < 30; i++ {
		variant(i)
		res, err := Build(ctx, f.spec.WithDefaults(), f.opts)
		if err != nil {
			t.Fatalf("variant %d: %v", i, err)
		}
		if got := size(); got > f.opts.CacheLimit {
			t.Fatalf("after variant %d the cache holds %d bytes, limit %d", i, got, f.opts.CacheLimit)
		}
		last = res
	}
	res, err := Build(ctx, f.spec.WithDefaults(), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.SHA256 != last.SHA256 {
		t.Error("rebuilding the last variant changed the image")
	}
	for _, tm := range res.Timings {
		if tm.Stage == "esp" && !tm.Cached {
			t.Error("pruning removed the ESP the last build made")
		}
	}
	if _, err := os.Stat(f.opts.CacheDir); err != nil {
		t.Fatal(err)
	}
}
