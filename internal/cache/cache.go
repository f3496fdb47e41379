// Package cache is tinyboot's one cache: downloaded packages, unpacked
// kernels, module indexes, the agent, compressed initramfs segments and
// ESPs, each kind in its own directory under one root, with one key scheme
// and one policy.
//
// Entries are files or directories directly below <root>/<kind>/. Keys
// made with Key include FormatVersion, so a change of what is stored never
// reads an old entry. Files are written atomically (renameio: temp file,
// fsync, rename), so a killed build never leaves a half entry. Every use
// stamps the entry's modification time; Prune removes the least recently
// used entries until the cache fits its limit, never one this process has
// used, so a build never loses what it is building from. A build holds a
// shared lock on the cache while it runs (Acquire); Prune and Clean need
// the lock alone, so one build never prunes what another is using: while
// builds overlap, pruning waits for the last of them.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tinyboot/tinyboot/internal/fsutil"
)

// lockName is the file builds hold a shared flock on.
const lockName = ".lock"

// ErrBusy is Prune's or Clean's answer while another build uses the cache.
var ErrBusy = errors.New("another build is using the cache")

// FormatVersion is part of every key: bump it when what an entry holds,
// or how keys are made, changes.
const FormatVersion = 1

// DefaultLimit is the cache size Prune keeps to unless
// TINYBOOT_CACHE_LIMIT says otherwise.
const DefaultLimit int64 = 2 << 30

// LimitEnv names the environment variable that sets the limit.
const LimitEnv = "TINYBOOT_CACHE_LIMIT"

// tempPrefix marks entries being written; Prune leaves young ones alone
// and Info does not count them.
const tempPrefix = "."

// tempGrace is how old an in-progress entry must be before it counts as
// abandoned by a killed build.
const tempGrace = time.Hour

// Cache is one cache root. Its methods are safe for concurrent use.
type Cache struct {
	root string
	mu   sync.Mutex
	used map[string]bool
	now  func() time.Time
	lock *os.File // held from Acquire to Release
}

// Open returns the cache at root, creating nothing until it is written.
func Open(root string) *Cache {
	return &Cache{root: root, used: map[string]bool{}, now: time.Now}
}

// Acquire takes the shared lock a build holds for as long as it uses the
// cache; Release gives it back.
func (c *Cache) Acquire() error {
	if err := os.MkdirAll(c.root, 0o755); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(c.root, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := lockShared(f); err != nil {
		f.Close()
		return fmt.Errorf("cache: lock %s: %w", f.Name(), err)
	}
	c.mu.Lock()
	c.lock = f
	c.mu.Unlock()
	return nil
}

// Release gives back the lock Acquire took.
func (c *Cache) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

// exclusive takes the cache for this process alone, without waiting: it
// turns the shared lock into an exclusive one (or takes one if it held
// none). The returned func gives it back.
func (c *Cache) exclusive() (func(), error) {
	c.mu.Lock()
	f := c.lock
	c.mu.Unlock()
	own := f == nil
	if own {
		if _, err := os.Stat(c.root); errors.Is(err, fs.ErrNotExist) {
			return func() {}, nil
		}
		var err error
		if f, err = os.OpenFile(filepath.Join(c.root, lockName), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	if err := tryLockExclusive(f); err != nil {
		if own {
			f.Close()
		}
		if errors.Is(err, errWouldBlock) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("cache: lock: %w", err)
	}
	return func() {
		if own {
			f.Close()
			return
		}
		_ = lockShared(f)
	}, nil
}

// Root is the cache's directory.
func (c *Cache) Root() string { return c.root }

// Key makes the key of an entry from what it is made of: the kind, the
// format version and each part, unambiguously separated.
func Key(kind string, parts ...string) string {
	h := sha256.New()
	fmt.Fprintf(h, "tinyboot cache v%d\x00%s", FormatVersion, kind)
	for _, p := range parts {
		fmt.Fprintf(h, "\x00%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Path is where the entry name of kind lives. name is a key, or a name the
// caller makes content-addressed itself (a .deb named by its sha256).
// Path marks the entry as used by this process and stamps it, so that
// whoever asks for a path keeps it through the next Prune.
func (c *Cache) Path(kind, name string) string {
	p := filepath.Join(c.root, kind, name)
	c.Use(p)
	return p
}

// Use marks the entry at p (a path Path returned) as used now.
func (c *Cache) Use(p string) {
	c.mu.Lock()
	c.used[p] = true
	c.mu.Unlock()
	t := c.now()
	_ = os.Chtimes(p, t, t) // a missing entry is created later, stamped then
}

// Get reads the file entry name of kind.
func (c *Cache) Get(kind, name string) ([]byte, bool) {
	b, err := os.ReadFile(c.Path(kind, name))
	return b, err == nil
}

// Put stores data as the file entry name of kind, atomically. A failure
// only costs speed next time, so callers may ignore it.
func (c *Cache) Put(kind, name string, data []byte) error {
	p := c.Path(kind, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := fsutil.WriteFileAtomic(p, data); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	c.Use(p)
	return nil
}

// Dir returns the directory of kind, created, for entries written in
// place (an unpacked tree published with a rename).
func (c *Cache) Dir(kind string) (string, error) {
	d := filepath.Join(c.root, kind)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return d, nil
}

// Entry is one cache entry.
type Entry struct {
	Kind    string
	Name    string
	Size    int64
	LastUse time.Time
	path    string
}

// Entries lists every complete entry, oldest use first.
func (c *Cache) Entries() ([]Entry, error) {
	kinds, err := os.ReadDir(c.root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", c.root, err)
	}
	var out []Entry
	for _, k := range kinds {
		if !k.IsDir() {
			continue
		}
		dir := filepath.Join(c.root, k.Name())
		items, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("cache %s: %w", dir, err)
		}
		for _, it := range items {
			if strings.HasPrefix(it.Name(), tempPrefix) {
				continue
			}
			p := filepath.Join(dir, it.Name())
			fi, err := os.Lstat(p)
			if err != nil {
				continue // removed meanwhile
			}
			size := fi.Size()
			if fi.IsDir() {
				size = treeSize(p)
			}
			out = append(out, Entry{Kind: k.Name(), Name: it.Name(), Size: size, LastUse: fi.ModTime(), path: p})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].LastUse.Equal(out[j].LastUse) {
			return out[i].LastUse.Before(out[j].LastUse)
		}
		return out[i].path < out[j].path
	})
	return out, nil
}

func treeSize(root string) int64 {
	var n int64
	_ = filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// Usage is how much one kind of entry takes.
type Usage struct {
	Kind    string `json:"kind"`
	Entries int    `json:"entries"`
	Size    int64  `json:"size"`
}

// Info sums the entries by kind, sorted by kind.
func (c *Cache) Info() ([]Usage, error) {
	entries, err := c.Entries()
	if err != nil {
		return nil, err
	}
	by := map[string]*Usage{}
	for _, e := range entries {
		u := by[e.Kind]
		if u == nil {
			u = &Usage{Kind: e.Kind}
			by[e.Kind] = u
		}
		u.Entries++
		u.Size += e.Size
	}
	out := make([]Usage, 0, len(by))
	for _, u := range by {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out, nil
}

// Prune removes the least recently used entries until the cache holds at
// most limit bytes, skipping every entry this process used, and removes
// in-progress leftovers of killed builds. It returns the bytes freed, or
// ErrBusy while another build holds the cache.
func (c *Cache) Prune(limit int64) (int64, error) {
	unlock, err := c.exclusive()
	if err != nil {
		return 0, err
	}
	defer unlock()
	c.removeAbandoned()
	entries, err := c.Entries()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range entries {
		total += e.Size
	}
	var freed int64
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range entries {
		if total <= limit {
			break
		}
		if c.used[e.path] {
			continue
		}
		if err := os.RemoveAll(e.path); err != nil {
			return freed, fmt.Errorf("cache: prune %s: %w", e.path, err)
		}
		total -= e.Size
		freed += e.Size
	}
	return freed, nil
}

// removeAbandoned removes temp entries older than tempGrace.
func (c *Cache) removeAbandoned() {
	kinds, _ := os.ReadDir(c.root)
	for _, k := range kinds {
		if !k.IsDir() {
			continue
		}
		dir := filepath.Join(c.root, k.Name())
		items, _ := os.ReadDir(dir)
		for _, it := range items {
			if !strings.HasPrefix(it.Name(), tempPrefix) {
				continue
			}
			p := filepath.Join(dir, it.Name())
			if fi, err := os.Lstat(p); err == nil && c.now().Sub(fi.ModTime()) > tempGrace {
				os.RemoveAll(p)
			}
		}
	}
}

// Clean removes every entry (and every leftover) below the root, keeping
// the root itself. It returns the bytes freed, or ErrBusy while a build
// holds the cache.
func (c *Cache) Clean() (int64, error) {
	unlock, err := c.exclusive()
	if err != nil {
		return 0, err
	}
	defer unlock()
	entries, err := c.Entries()
	if err != nil {
		return 0, err
	}
	var freed int64
	for _, e := range entries {
		freed += e.Size
	}
	items, err := os.ReadDir(c.root)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cache %s: %w", c.root, err)
	}
	for _, it := range items {
		if it.Name() == lockName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(c.root, it.Name())); err != nil {
			return freed, fmt.Errorf("cache: %w", err)
		}
	}
	return freed, nil
}

// ParseLimit reads a byte count with an optional binary suffix: 700M,
// 2G, 512K, 1T, or plain bytes; "KiB"-style and "B" suffixes are accepted
// too.
func ParseLimit(s string) (int64, error) {
	v := strings.TrimSpace(s)
	v = strings.TrimSuffix(strings.TrimSuffix(v, "B"), "i")
	shift := 0
	if v != "" {
		switch v[len(v)-1] {
		case 'K', 'k':
			shift = 10
		case 'M', 'm':
			shift = 20
		case 'G', 'g':
			shift = 30
		case 'T', 't':
			shift = 40
		}
		if shift > 0 {
			v = v[:len(v)-1]
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("cache limit %q is not a byte count: write it as bytes or with a binary suffix, e.g. 700M or 2G", s)
	}
	return n << shift, nil
}

// LimitFromEnv is TINYBOOT_CACHE_LIMIT, else DefaultLimit.
func LimitFromEnv() (int64, error) {
	v := os.Getenv(LimitEnv)
	if v == "" {
		return DefaultLimit, nil
	}
	n, err := ParseLimit(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", LimitEnv, err)
	}
	return n, nil
}

// Lookup returns the path of the file entry name of kind when it is
// present, marking it used.
func (c *Cache) Lookup(kind, name string) (string, bool) {
	p := c.Path(kind, name)
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	return p, true
}

// Store writes the file entry name of kind by streaming into write (for
// entries too large to hold in memory, like a .deb) and publishes it with
// a rename only when write succeeds: a failed or killed write stores
// nothing. It returns the entry's path.
func (c *Cache) Store(kind, name string, write func(w io.Writer) error) (string, error) {
	if name == "" || strings.HasPrefix(name, tempPrefix) || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("cache: %q is not an entry name", name)
	}
	dir, err := c.Dir(kind)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, tempPrefix+"store-*")
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	if err := write(f); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	p := c.Path(kind, name)
	if err := os.Rename(f.Name(), p); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	c.Use(p)
	return p, nil
}
