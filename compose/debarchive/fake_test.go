package debarchive

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/tinyboot/tinyboot/internal/cache"
	"github.com/tinyboot/tinyboot/internal/debtest"
)

// client is a Client of the fake archive's suites with its key trusted,
// caching in the cache at dir.
func client(a *debtest.Archive, dir string, suites ...string) *Client {
	return &Client{
		Sources: []Source{{URL: a.URL(), Suites: suites, Components: []string{"main"}, Origin: "test"}},
		Keyring: openpgp.EntityList{a.Key},
		Cache:   cache.Open(dir),
		Now:     func() time.Time { return debtest.Now },
	}
}

// cachedUnder lists the files stored below dir of the cache.
func cachedUnder(t *testing.T, cache, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(filepath.Join(cache, dir), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func openpgpList(e ...*openpgp.Entity) openpgp.EntityList { return e }

// fetchKernel resolves linux-image-amd64 with c and downloads its .debs,
// as a build does.
func fetchKernel(t *testing.T, c *Client) []*Package {
	t.Helper()
	ctx := context.Background()
	pkgs, err := c.Resolve(ctx, "linux-image-amd64", "amd64", isLinuxImage)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if _, err := c.Download(ctx, PinOf(p)); err != nil {
			t.Fatal(err)
		}
	}
	return pkgs
}
