// Package debarchive is tinyboot's client of Debian-format package
// archives: it reads a suite's InRelease, verifies its OpenPGP signature
// and Valid-Until, fetches the Packages indexes it lists and checks their
// hashes, resolves packages by Debian version ordering across suites, and
// downloads .debs from their pool paths, checking each sha256. Nothing it
// stores in its cache is unverified, and nothing on the host (apt, dpkg)
// is used.
package debarchive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/tinyboot/tinyboot/internal/cache"
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
	// Cache is tinyboot's cache, holding InRelease files, indexes and
	// .debs (DebsKind, IndexesKind, ReleasesKind).
	Cache *cache.Cache
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

// fetchVerified downloads u into the cache as the entry name of kind,
// keeping it only when its sha256 is want.
func (c *Client) fetchVerified(ctx context.Context, kind, name, u, want string, limit int64) (string, error) {
	return c.Cache.Store(kind, name, func(w io.Writer) error {
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
	name := releaseName(src.URL, suite)
	maxAge := c.MaxAge
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	now := c.now()
	// A cached InRelease that no longer verifies (keys changed, it
	// expired, it is damaged) counts as absent.
	var cached *Release
	var cachedAt time.Time
	if p, ok := c.Cache.Lookup(ReleasesKind, name); ok {
		if cr, err := readCachedRelease(p); err == nil {
			if r, err := verifyRelease(cr.data, keyring, now); err == nil {
				cached, cachedAt = r, cr.fetched
			}
		}
	}
	age := now.Sub(cachedAt)
	// A fetch time in the future (the clock moved back) is not trusted.
	if cached != nil && !c.Update && age < maxAge && age > -time.Hour && checkValid(cached, now) == nil {
		return cached, nil
	}
	u := src.URL + "/dists/" + suite + "/InRelease"
	var buf bytes.Buffer
	c.log().Info("fetching archive index", "url", u)
	if err := c.get(ctx, u, &buf, 64<<20); err != nil {
		if errors.Is(err, errNotFound) {
			return nil, fmt.Errorf("%w; check the URL and the suite name (the archive has no dists/%s/InRelease)", err, suite)
		}
		if ctx.Err() == nil && cached != nil {
			return c.staleRelease(src, suite, cached, age, now, err)
		}
		return nil, fmt.Errorf("%w; check the URL and the network", err)
	}
	data := buf.Bytes()
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
	if _, err := c.Cache.Store(ReleasesKind, name, func(w io.Writer) error { return encodeRelease(w, data, now) }); err != nil {
		return nil, err
	}
	return r, nil
}

// staleRelease decides for an archive that cannot be reached while an
// older verified InRelease is cached: a build offline with a warm cache
// goes on from it (the indexes it lists are cached by hash) with a
// warning naming its age, unless the user asked for the current archive
// (Update) or the archive's own Valid-Until has passed, which is refused
// as it would be online.
func (c *Client) staleRelease(src Source, suite string, r *Release, age time.Duration, now time.Time, fetchErr error) (*Release, error) {
	if c.Update {
		return nil, fmt.Errorf("%w; --update needs the archive: build without --update to use the index fetched %s ago", fetchErr, describeAge(age))
	}
	if err := checkValid(r, now); err != nil {
		return nil, fmt.Errorf("%w, and the cached InRelease cannot stand in for it: %w", fetchErr, err)
	}
	c.log().Warn("archive unreachable: resolving from the cached index; newer packages (security updates) may exist",
		"archive", src.URL, "suite", suite, "fetched", describeAge(age)+" ago", "error", fetchErr)
	return r, nil
}

// checkValid refuses a Release past its Valid-Until: an attacker (or a
// stale mirror) could otherwise replay old indexes with known holes.
func checkValid(r *Release, now time.Time) error {
	if !r.ValidUntil.IsZero() && now.After(r.ValidUntil) {
		return fmt.Errorf("InRelease expired: Valid-Until %s is past; nothing was cached: the mirror is stale, use another or wait for it to sync", r.ValidUntil.Format(time.RFC1123))
	}
	return nil
}
