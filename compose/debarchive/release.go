package debarchive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/tinyboot/tinyboot/internal/deb822"
)

// Release is a suite's verified InRelease file: what the archive signed.
type Release struct {
	Suite, Codename string
	Date            time.Time
	// ValidUntil is zero when the archive sets no limit.
	ValidUntil    time.Time
	Architectures []string
	Components    []string
	// AcquireByHash says index files can be fetched by their hash, which
	// cannot change under a client between InRelease and the index.
	AcquireByHash bool
	// Files maps a path below dists/<suite>/ to its size and SHA256.
	Files map[string]FileHash
	// Signer is the fingerprint of the key whose signature verified.
	Signer string
}

// FileHash is one line of a Release file's SHA256 field.
type FileHash struct {
	Size   int64
	SHA256 string
}

// errUnsigned and friends classify verification failures for the message
// the user gets.
var errUnsigned = errors.New("not a clearsigned OpenPGP message")

// verifyRelease checks the clearsigned InRelease data against keyring at
// now and parses what was signed. Only the signed text is ever parsed.
func verifyRelease(data []byte, keyring openpgp.EntityList, now time.Time) (*Release, error) {
	block, rest := clearsign.Decode(data)
	if block == nil {
		return nil, errUnsigned
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the signature")
	}
	sig, err := io.ReadAll(block.ArmoredSignature.Body)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	// An InRelease carries one signature per archive key (old and new
	// release keys). Trying the keys one at a time makes any one valid
	// signature from a trusted key enough, whatever the order.
	cfg := &packet.Config{Time: func() time.Time { return now }}
	var firstErr error
	for _, e := range keyring {
		_, err := openpgp.CheckDetachedSignature(openpgp.EntityList{e}, bytes.NewReader(block.Bytes), bytes.NewReader(sig), cfg)
		if err == nil {
			rel, err := parseRelease(block.Plaintext)
			if err != nil {
				return nil, err
			}
			rel.Signer = fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
			return rel, nil
		}
		if !errors.Is(err, pgperrors.ErrUnknownIssuer) && firstErr == nil {
			firstErr = fmt.Errorf("key %X: %w", e.PrimaryKey.Fingerprint, err)
		}
	}
	if firstErr != nil {
		return nil, fmt.Errorf("bad signature: %w", firstErr)
	}
	return nil, errUnknownKey
}

var errUnknownKey = errors.New("signed by none of the trusted keys")

// parseRelease reads the fields of a Release file tinyboot uses.
func parseRelease(text []byte) (*Release, error) {
	para, err := deb822.NewReader(bytes.NewReader(text)).Next()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("Release is empty")
	}
	if err != nil {
		return nil, fmt.Errorf("Release: %w", err)
	}
	r := &Release{
		Suite:         para.Value("Suite"),
		Codename:      para.Value("Codename"),
		Architectures: strings.Fields(para.Value("Architectures")),
		Components:    strings.Fields(para.Value("Components")),
		AcquireByHash: strings.EqualFold(para.Value("Acquire-By-Hash"), "yes"),
		Files:         map[string]FileHash{},
	}
	for _, f := range []struct {
		name string
		to   *time.Time
	}{{"Date", &r.Date}, {"Valid-Until", &r.ValidUntil}} {
		if v, ok := para.Get(f.name); ok {
			if *f.to, err = parseReleaseTime(v); err != nil {
				return nil, fmt.Errorf("Release %s: %w", f.name, err)
			}
		}
	}
	for _, line := range strings.Split(para.Value("SHA256"), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("Release SHA256 line %q: want hash, size and path", line)
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || len(f[0]) != 64 {
			return nil, fmt.Errorf("Release SHA256 line %q: bad hash or size", line)
		}
		r.Files[f[2]] = FileHash{Size: size, SHA256: strings.ToLower(f[0])}
	}
	if len(r.Files) == 0 {
		return nil, errors.New("Release lists no SHA256 hashes")
	}
	return r, nil
}

// parseReleaseTime reads a Release date ("Sat, 09 Nov 2024 10:25:37 UTC").
func parseReleaseTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date like \"Sat, 09 Nov 2024 10:25:37 UTC\"", v)
}
