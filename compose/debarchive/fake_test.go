package debarchive

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/klauspost/compress/gzip"
)

// testNow is the fake archive's clock: its InRelease files are dated a
// little before it.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// newKey makes an OpenPGP signing key for a test (ed25519: instant).
func newKey(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.org", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return testNow.Add(-24 * time.Hour) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// fakePkg is one package of a fake suite. deb is its .deb's bytes: the
// client never looks inside, so any bytes do.
type fakePkg struct {
	name, version, arch, depends string
	deb                          []byte
}

// fakeSuite is one dists/<suite> of the fake archive.
type fakeSuite struct {
	name       string
	validUntil time.Time
	pkgs       []fakePkg
	// signer signs InRelease; nil means the archive's key.
	signer *openpgp.Entity
}

// fakeArchive serves dists/ and pool/ from memory and records every
// request path.
type fakeArchive struct {
	t     *testing.T
	key   *openpgp.Entity
	srv   *httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	reqs  []string
}

func newFakeArchive(t *testing.T, suites ...fakeSuite) *fakeArchive {
	t.Helper()
	a := &fakeArchive{t: t, key: newKey(t, "archive"), files: map[string][]byte{}}
	for _, s := range suites {
		a.addSuite(s)
	}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.reqs = append(a.reqs, r.URL.Path)
		b, ok := a.files[strings.TrimPrefix(r.URL.Path, "/debian/")]
		a.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeArchive) url() string { return a.srv.URL + "/debian" }

// requests returns and forgets the paths requested so far.
func (a *fakeArchive) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.reqs
	a.reqs = nil
	return r
}

func (a *fakeArchive) set(path string, b []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.files[path] = b
}

func (a *fakeArchive) get(path string) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.files[path]
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// poolPath is where a fake package's .deb lives.
func poolPath(p fakePkg) string {
	return fmt.Sprintf("pool/main/%c/%s/%s_%s_%s.deb", p.name[0], p.name, p.name, strings.ReplaceAll(p.version, ":", "%3a"), p.arch)
}

// addSuite writes a suite's pool files, Packages.gz per architecture and
// its signed InRelease.
func (a *fakeArchive) addSuite(s fakeSuite) {
	t := a.t
	t.Helper()
	byArch := map[string]*bytes.Buffer{"amd64": {}, "arm64": {}}
	for _, p := range s.pkgs {
		deb := p.deb
		if deb == nil {
			deb = []byte("deb of " + p.name + " " + p.version)
		}
		a.files[poolPath(p)] = deb
		for arch, buf := range byArch {
			if p.arch != arch && p.arch != "all" {
				continue
			}
			fmt.Fprintf(buf, "Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test <t@example.org>\n", p.name, p.version, p.arch)
			if p.depends != "" {
				fmt.Fprintf(buf, "Depends: %s\n", p.depends)
			}
			fmt.Fprintf(buf, "Filename: %s\nSize: %d\nSHA256: %s\nDescription: %s\n a test package\n .\n with a long description\n\n", poolPath(p), len(deb), sum(deb), p.name)
		}
	}
	var rel bytes.Buffer
	fmt.Fprintf(&rel, "Origin: Test\nSuite: %s\nCodename: %s\nDate: %s\n", s.name, s.name, testNow.Add(-time.Hour).Format(time.RFC1123))
	if !s.validUntil.IsZero() {
		fmt.Fprintf(&rel, "Valid-Until: %s\n", s.validUntil.Format(time.RFC1123))
	}
	rel.WriteString("Architectures: amd64 arm64\nComponents: main\nSHA256:\n")
	archs := []string{"amd64", "arm64"}
	sort.Strings(archs)
	for _, arch := range archs {
		plain := byArch[arch].Bytes()
		z := gz(t, plain)
		dir := "dists/" + s.name + "/main/binary-" + arch + "/"
		a.files[dir+"Packages"] = plain
		a.files[dir+"Packages.gz"] = z
		fmt.Fprintf(&rel, " %s %d main/binary-%s/Packages\n", sum(plain), len(plain), arch)
		fmt.Fprintf(&rel, " %s %d main/binary-%s/Packages.gz\n", sum(z), len(z), arch)
	}
	signer := s.signer
	if signer == nil {
		signer = a.key
	}
	a.files["dists/"+s.name+"/InRelease"] = clearsignBytes(t, signer, rel.Bytes())
}

func clearsignBytes(t *testing.T, e *openpgp.Entity, text []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, e.PrivateKey, &packet.Config{Time: func() time.Time { return testNow.Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(text)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// client is a Client of the fake archive's suites with its key trusted,
// caching in cache.
func (a *fakeArchive) client(cache string, suites ...string) *Client {
	return &Client{
		Sources: []Source{{URL: a.url(), Suites: suites, Components: []string{"main"}, Origin: "test"}},
		Keyring: openpgp.EntityList{a.key},
		Cache:   DirCache{Root: cache},
		Now:     func() time.Time { return testNow },
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
