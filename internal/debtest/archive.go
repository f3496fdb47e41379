package debtest

// This file is the fake archive: served by httptest, its InRelease files
// signed with a key made in the test.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
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

// Now is the fake archive's clock: its InRelease files are dated a
// little before it.
var Now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// newKey makes an OpenPGP signing key for a test (ed25519: instant).
func NewKey(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.org", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return Now.Add(-24 * time.Hour) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Pkg is one package of a fake suite. deb is its .deb's bytes: the
// client never looks inside, so any bytes do.
type Pkg struct {
	Name, Version, Arch, Depends string
	Deb                          []byte
}

// Suite is one dists/<suite> of the fake archive.
type Suite struct {
	Name       string
	ValidUntil time.Time
	Pkgs       []Pkg
	// Signer signs InRelease; nil means the archive's key.
	Signer *openpgp.Entity
}

// Archive serves dists/ and pool/ from memory and records every
// request path.
type Archive struct {
	t *testing.T
	// Key signs the InRelease files.
	Key *openpgp.Entity
	// Server serves the archive below /debian/.
	Server *httptest.Server
	mu     sync.Mutex
	files  map[string][]byte
	reqs   []string
	down   bool
	status int
}

// NewArchive serves suites, signed with a key made for the test.
func NewArchive(t *testing.T, suites ...Suite) *Archive {
	t.Helper()
	a := &Archive{t: t, Key: NewKey(t, "archive"), files: map[string][]byte{}}
	for _, s := range suites {
		a.AddSuite(s)
	}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.reqs = append(a.reqs, r.URL.Path)
		b, ok := a.files[strings.TrimPrefix(r.URL.Path, "/debian/")]
		down, status := a.down, a.status
		a.mu.Unlock()
		if status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		if down {
			// Drop the connection unanswered, as a network that is gone
			// would: the client sees a transport error, not a status.
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
				return
			}
			http.Error(w, "unreachable", http.StatusServiceUnavailable)
			return
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(a.Server.Close)
	return a
}

// URL is the archive's base URL.
func (a *Archive) URL() string { return a.Server.URL + "/debian" }

// requests returns and forgets the paths requested so far.
func (a *Archive) Requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.reqs
	a.reqs = nil
	return r
}

// SetUnreachable makes the archive drop every connection unanswered (on)
// or serve again (off); requests are still counted.
func (a *Archive) SetUnreachable(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.down = on
}

// SetStatus makes the archive answer every request with status (a
// server error, say), or serve again for 0; requests are still counted.
func (a *Archive) SetStatus(status int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status = status
}

// Set replaces (or adds) the file at path below the archive URL.
func (a *Archive) Set(path string, b []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.files[path] = b
}

// Get returns the file at path below the archive URL.
func (a *Archive) Get(path string) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.files[path]
}

// SHA256 is b's hash in hex, as indexes write it.
func SHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Gzip compresses b.
func Gzip(t *testing.T, b []byte) []byte {
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
func PoolPath(p Pkg) string {
	return fmt.Sprintf("pool/main/%c/%s/%s_%s_%s.deb", p.Name[0], p.Name, p.Name, strings.ReplaceAll(p.Version, ":", "%3a"), p.Arch)
}

// addSuite writes a suite's pool files, Packages.gz per architecture and
// its signed InRelease.
func (a *Archive) AddSuite(s Suite) {
	t := a.t
	t.Helper()
	byArch := map[string]*bytes.Buffer{"amd64": {}, "arm64": {}}
	for _, p := range s.Pkgs {
		deb := p.Deb
		if deb == nil {
			deb = []byte("deb of " + p.Name + " " + p.Version)
		}
		a.files[PoolPath(p)] = deb
		for arch, buf := range byArch {
			if p.Arch != arch && p.Arch != "all" {
				continue
			}
			fmt.Fprintf(buf, "Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test <t@example.org>\n", p.Name, p.Version, p.Arch)
			if p.Depends != "" {
				fmt.Fprintf(buf, "Depends: %s\n", p.Depends)
			}
			fmt.Fprintf(buf, "Filename: %s\nSize: %d\nSHA256: %s\nDescription: %s\n a test package\n .\n with a long description\n\n", PoolPath(p), len(deb), SHA256(deb), p.Name)
		}
	}
	var rel bytes.Buffer
	fmt.Fprintf(&rel, "Origin: Test\nSuite: %s\nCodename: %s\nDate: %s\n", s.Name, s.Name, Now.Add(-time.Hour).Format(time.RFC1123))
	if !s.ValidUntil.IsZero() {
		fmt.Fprintf(&rel, "Valid-Until: %s\n", s.ValidUntil.Format(time.RFC1123))
	}
	rel.WriteString("Architectures: amd64 arm64\nComponents: main\nSHA256:\n")
	archs := []string{"amd64", "arm64"}
	sort.Strings(archs)
	for _, arch := range archs {
		plain := byArch[arch].Bytes()
		z := Gzip(t, plain)
		dir := "dists/" + s.Name + "/main/binary-" + arch + "/"
		a.files[dir+"Packages"] = plain
		a.files[dir+"Packages.gz"] = z
		fmt.Fprintf(&rel, " %s %d main/binary-%s/Packages\n", SHA256(plain), len(plain), arch)
		fmt.Fprintf(&rel, " %s %d main/binary-%s/Packages.gz\n", SHA256(z), len(z), arch)
	}
	signer := s.Signer
	if signer == nil {
		signer = a.Key
	}
	a.files["dists/"+s.Name+"/InRelease"] = Clearsign(t, signer, rel.Bytes())
}

// Clearsign signs text as an InRelease file is signed.
func Clearsign(t *testing.T, e *openpgp.Entity, text []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, e.PrivateKey, &packet.Config{Time: func() time.Time { return Now.Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(text)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
