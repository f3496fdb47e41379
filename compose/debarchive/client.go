// Package debarchive is tinyboot's client of Debian-format package
// archives: it reads a suite's InRelease, verifies its OpenPGP signature
// and Valid-Until, fetches the Packages indexes it lists and checks their
// hashes, resolves packages by Debian version ordering across suites, and
// downloads .debs from their pool paths, checking each sha256. Nothing it
// stores in its cache is unverified, and nothing on the host (apt, dpkg)
// is used.
package debarchive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// DefaultMaxAge is how long a fetched InRelease (and so the indexes it
// lists) is reused before the archive is asked again.
const DefaultMaxAge = 24 * time.Hour

// Client reads packages from Sources. The zero value is not usable: set
// Sources and Cache.
type Client struct {
	Sources []Source
	// Keyring verifies sources without a keyring of their own; nil means
	// Debian's keys built into tbcompose (DebianKeyring).
	Keyring openpgp.EntityList
	// Cache holds InRelease files, indexes and .debs.
	Cache Cache
	// HTTP fetches from the archive; nil means a client with timeouts.
	HTTP *http.Client
	// Update asks every archive for its current InRelease, however recent
	// the cached one is.
	Update bool
	// MaxAge is DefaultMaxAge when zero.
	MaxAge time.Duration
	// Now is time.Now when nil; tests move the clock.
	Now func() time.Time
	// Log gets one line per download.
	Log *slog.Logger

	mu       sync.Mutex
	releases map[string]*Release
	indexes  map[string][]*index // by architecture
}

// defaultHTTP bounds each phase of a request; a whole transfer is bounded
// by the caller's context, since a kernel package may take a while.
var defaultHTTP = &http.Client{
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       60 * time.Second,
		MaxIdleConnsPerHost:   8,
	},
	Timeout: 15 * time.Minute,
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (c *Client) keyring(src Source) (openpgp.EntityList, error) {
	if src.Keyring != nil {
		return src.Keyring, nil
	}
	if c.Keyring != nil {
		return c.Keyring, nil
	}
	return DebianKeyring()
}

// errNotFound marks a 404, so callers can try another mirror.
var errNotFound = errors.New("not found")

// get fetches u, streaming its body into w, at most limit bytes.
func (c *Client) get(ctx context.Context, u string, w io.Writer, limit int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w (is the archive reachable?)", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		return fmt.Errorf("GET %s: %s: %w", u, resp.Status, errNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: server answered %s", u, resp.Status)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if n > limit {
		return fmt.Errorf("GET %s: larger than %d bytes", u, limit)
	}
	return nil
}

// fetchVerified downloads u into the cache under key, keeping it only when
// its sha256 is want.
func (c *Client) fetchVerified(ctx context.Context, key, u, want string, limit int64) (string, error) {
	return c.Cache.Store(key, func(w io.Writer) error {
		h := sha256.New()
		if err := c.get(ctx, u, io.MultiWriter(w, h), limit); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return &hashError{url: u, got: got, want: want}
		}
		return nil
	})
}

type hashError struct{ url, got, want string }

func (e *hashError) Error() string {
	return fmt.Sprintf("%s has sha256 %s, but %s was expected; nothing was cached", e.url, e.got, e.want)
}

// urlKey turns an archive URL into a cache path element.
func urlKey(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	return strings.NewReplacer("/", "_", ":", "_", "?", "_", "#", "_", "%", "_").Replace(u)
}

// Release returns the verified InRelease of src's suite, from the cache
// while it is younger than MaxAge.
func (c *Client) Release(ctx context.Context, src Source, suite string) (*Release, error) {
	id := src.URL + " " + suite
	c.mu.Lock()
	if r, ok := c.releases[id]; ok {
		c.mu.Unlock()
		return r, nil
	}
	c.mu.Unlock()
	r, err := c.release(ctx, src, suite)
	if err != nil {
		where := ""
		if src.Origin != "" {
			where = " (from " + src.Origin + ")"
		}
		return nil, fmt.Errorf("archive %s suite %s%s: %w", src.URL, suite, where, err)
	}
	c.mu.Lock()
	if c.releases == nil {
		c.releases = map[string]*Release{}
	}
	c.releases[id] = r
	c.mu.Unlock()
	return r, nil
}

func (c *Client) release(ctx context.Context, src Source, suite string) (*Release, error) {
	keyring, err := c.keyring(src)
	if err != nil {
		return nil, err
	}
	key := "dists/" + urlKey(src.URL) + "/" + suite + "/InRelease"
	maxAge := c.MaxAge
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	now := c.now()
	if p, ok := c.fresh(key, now, maxAge); ok {
		if b, err := os.ReadFile(p); err == nil {
			if r, err := verifyRelease(b, keyring, now); err == nil && checkValid(r, now) == nil {
				return r, nil
			}
		}
		// A cached InRelease that no longer verifies (keys changed, it
		// expired) is fetched again below.
	}
	u := src.URL + "/dists/" + suite + "/InRelease"
	var buf strings.Builder
	c.log().Info("fetching archive index", "url", u)
	if err := c.get(ctx, u, &buf, 64<<20); err != nil {
		if errors.Is(err, errNotFound) {
			return nil, fmt.Errorf("%w; check the URL and the suite name (the archive has no dists/%s/InRelease)", err, suite)
		}
		return nil, fmt.Errorf("%w; check the URL and the network", err)
	}
	data := []byte(buf.String())
	r, err := verifyRelease(data, keyring, now)
	switch {
	case errors.Is(err, errUnknownKey):
		return nil, fmt.Errorf("InRelease is %w; nothing was cached: for an archive that is not Debian's, give its signing keys in the archive entry's keyring", err)
	case err != nil:
		return nil, fmt.Errorf("InRelease does not verify: %w; nothing was cached: the mirror serves a damaged or forged file, or a keyring with the wrong key", err)
	}
	if err := checkValid(r, now); err != nil {
		return nil, err
	}
	if _, err := c.Cache.Store(key, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return nil, err
	}
	// When it was fetched is kept beside it by the client's clock, which
	// is what freshness is judged by.
	if _, err := c.Cache.Store(key+".fetched", func(w io.Writer) error {
		_, err := io.WriteString(w, now.UTC().Format(time.RFC3339))
		return err
	}); err != nil {
		return nil, err
	}
	return r, nil
}

// fresh returns the cached InRelease at key when it was fetched less than
// maxAge before now and Update is not set.
func (c *Client) fresh(key string, now time.Time, maxAge time.Duration) (string, bool) {
	if c.Update {
		return "", false
	}
	p, _, ok := c.Cache.Lookup(key)
	if !ok {
		return "", false
	}
	tp, _, ok := c.Cache.Lookup(key + ".fetched")
	if !ok {
		return "", false
	}
	b, err := os.ReadFile(tp)
	if err != nil {
		return "", false
	}
	fetched, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	if err != nil || now.Sub(fetched) >= maxAge || now.Before(fetched.Add(-time.Hour)) {
		return "", false
	}
	return p, true
}

// checkValid refuses a Release past its Valid-Until: an attacker (or a
// stale mirror) could otherwise replay old indexes with known holes.
func checkValid(r *Release, now time.Time) error {
	if !r.ValidUntil.IsZero() && now.After(r.ValidUntil) {
		return fmt.Errorf("InRelease expired: Valid-Until %s is past; nothing was cached: the mirror is stale, use another or wait for it to sync", r.ValidUntil.Format(time.RFC1123))
	}
	return nil
}
