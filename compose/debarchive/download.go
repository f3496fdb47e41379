package debarchive

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Pin identifies one .deb exactly, as a lock file records it.
type Pin struct {
	Name, Version, Architecture string
	// Filename is the pool path below the archive URL.
	Filename string
	SHA256   string
	Size     int64
	// From is the archive it was resolved from; its URL is asked first.
	From Origin
}

// PinOf is the pin of a resolved package.
func PinOf(p *Package) Pin {
	return Pin{Name: p.Name, Version: p.Version, Architecture: p.Architecture, Filename: p.Filename, SHA256: p.SHA256, Size: p.Size, From: p.From}
}

// Cached returns the path of a pinned .deb already in the cache.
func (c *Client) Cached(pin Pin) (string, bool) {
	if !isSHA256(pin.SHA256) {
		return "", false
	}
	p, ok := c.Cache.Lookup(DebsKind, debName(strings.ToLower(pin.SHA256)))
	return p, ok
}

// maxDeb bounds a download whose size the index did not give.
const maxDeb = 4 << 30

// Download returns the cached .deb of pin, fetching it from its pool path
// first: from the archive it was resolved from, then from the other
// configured archives (a mirror carries the same pool). No index is read.
// The file is kept only when its sha256 is the pinned one.
func (c *Client) Download(ctx context.Context, pin Pin) (string, error) {
	sum := strings.ToLower(pin.SHA256)
	if p, ok := c.Cached(pin); ok {
		return p, nil
	}
	if !isSHA256(sum) {
		return "", fmt.Errorf("%s %s: sha256 %q is not 64 hex digits", pin.Name, pin.Version, pin.SHA256)
	}
	if err := checkPoolPath(pin.Filename); err != nil {
		return "", fmt.Errorf("%s %s: %w", pin.Name, pin.Version, err)
	}
	var urls []string
	if pin.From.URL != "" {
		urls = append(urls, pin.From.URL)
	}
	for _, s := range c.Sources {
		if !slices.Contains(urls, s.URL) {
			urls = append(urls, s.URL)
		}
	}
	if len(urls) == 0 {
		return "", fmt.Errorf("%s %s: no archive to download %s from", pin.Name, pin.Version, pin.Filename)
	}
	limit := int64(maxDeb)
	if pin.Size > 0 {
		limit = pin.Size
	}
	var errs []error
	for _, base := range urls {
		u := base + "/" + pin.Filename
		c.log().Info("downloading package", "package", pin.Name, "version", pin.Version, "url", u)
		p, err := c.fetchVerified(ctx, DebsKind, debName(sum), u, sum, limit)
		if err == nil {
			return p, nil
		}
		var he *hashError
		if errors.As(err, &he) {
			return "", fmt.Errorf("%s %s: %w: the archive or a proxy serves a different file than its index (or tinyboot.lock) names; do not trust it", pin.Name, pin.Version, err)
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s %s: %w", pin.Name, pin.Version, ctx.Err())
		}
		errs = append(errs, err)
	}
	return "", &GoneError{Pin: pin, Err: errors.Join(errs...)}
}

// GoneError says no archive serves a pinned package any more, as happens
// to superseded security updates.
type GoneError struct {
	Pin Pin
	Err error
}

func (e *GoneError) Error() string {
	return fmt.Sprintf("the archive no longer serves %s version %s (%s, pool path %s, sha256 %s): %v; fetch that file from an archive snapshot into kernel.deb, or run tbcompose build --update to move to the current version",
		e.Pin.Name, e.Pin.Version, e.Pin.Architecture, e.Pin.Filename, e.Pin.SHA256, e.Err)
}

func (e *GoneError) Unwrap() error { return e.Err }

// isSHA256 says whether s is a sha256 in hex, as indexes and tinyboot.lock
// write it; anything else must never become a cache name.
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
