package debarchive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/tinyboot/tinyboot/internal/deb822"
)

// Source is one archive: a base URL with the suites and components to
// read, as a deb822 sources entry means them.
type Source struct {
	// URL is the archive's base, the directory holding dists/ and pool/.
	URL string
	// Suites are dists/ subdirectories, such as bookworm or
	// bookworm-security.
	Suites []string
	// Components default to main.
	Components []string
	// Keyring, when set, is trusted for this source instead of the
	// client's default keys (deb822's Signed-By).
	Keyring openpgp.EntityList
	// Origin says where the source was configured, for errors:
	// "tinyboot.yaml:12:5" or "/etc/apt/sources.list.d/debian.sources:1".
	Origin string
}

// CheckURL says whether u can be an archive's base URL.
func CheckURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL; write the archive's base URL, the directory holding dists/ and pool/, such as http://HOST/debian", u)
	}
	return nil
}

// HostSourcesDir is where Debian-family systems keep their package
// sources.
const HostSourcesDir = "/etc/apt"

// HostSources reads the deb (binary) sources configured under root (an
// /etc/apt-like directory): sources.list and sources.list.d/*.list in the
// one-line format and sources.list.d/*.sources in deb822. Entries whose
// Signed-By names a readable keyring file trust that keyring. A missing
// directory gives no sources and no error.
func HostSources(root string) ([]Source, error) {
	files := []string{filepath.Join(root, "sources.list")}
	more, _ := filepath.Glob(filepath.Join(root, "sources.list.d", "*"))
	sort.Strings(more)
	files = append(files, more...)
	var out []Source
	for _, f := range files {
		var parse func(string, []byte) ([]Source, error)
		switch {
		case strings.HasSuffix(f, ".list"):
			parse = parseOneLine
		case strings.HasSuffix(f, ".sources"):
			parse = parseDeb822
		default:
			continue // apt ignores other names too (.disabled, .save)
		}
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("archive sources: %w", err)
		}
		srcs, err := parse(f, b)
		if err != nil {
			return nil, fmt.Errorf("archive sources: %w", err)
		}
		out = append(out, srcs...)
	}
	return out, nil
}

// parseOneLine reads "deb [opts] URL suite component..." lines.
func parseOneLine(file string, b []byte) ([]Source, error) {
	var out []Source
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "deb" {
			continue // deb-src and blank lines
		}
		f = f[1:]
		var signedBy string
		if len(f) > 0 && strings.HasPrefix(f[0], "[") {
			var opts []string
			for len(f) > 0 {
				opt := f[0]
				f = f[1:]
				opts = append(opts, strings.Trim(opt, "[]"))
				if strings.HasSuffix(opt, "]") {
					break
				}
			}
			for _, o := range opts {
				if k, v, ok := strings.Cut(o, "="); ok && k == "signed-by" {
					signedBy = v
				}
			}
		}
		origin := fmt.Sprintf("%s:%d", file, n)
		if len(f) < 2 {
			return nil, fmt.Errorf("%s: want \"deb URL SUITE COMPONENT...\"", origin)
		}
		src := Source{URL: f[0], Suites: []string{f[1]}, Components: f[2:], Origin: origin}
		if err := finishHostSource(&src, signedBy); err != nil {
			continue
		}
		out = append(out, src)
	}
	return out, nil
}

// parseDeb822 reads paragraphs of Types/URIs/Suites/Components fields.
func parseDeb822(file string, b []byte) ([]Source, error) {
	paras, err := deb822.ReadAll(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []Source
	for _, p := range paras {
		if !slices.Contains(strings.Fields(p.Value("Types")), "deb") || strings.EqualFold(p.Value("Enabled"), "no") {
			continue
		}
		for _, u := range strings.Fields(p.Value("URIs")) {
			src := Source{URL: u, Suites: strings.Fields(p.Value("Suites")), Components: strings.Fields(p.Value("Components")),
				Origin: fmt.Sprintf("%s:%d", file, p.Line)}
			if finishHostSource(&src, p.Value("Signed-By")) == nil {
				out = append(out, src)
			}
		}
	}
	return out, nil
}

// finishHostSource applies defaults and Signed-By; it fails for entries
// tinyboot cannot use (flat repositories, non-http URLs), which are
// skipped: the host may list sources of its own that no image needs.
func finishHostSource(src *Source, signedBy string) error {
	src.URL = strings.TrimSuffix(src.URL, "/")
	if CheckURL(src.URL) != nil || len(src.Suites) == 0 {
		return errors.New("unusable")
	}
	for _, s := range src.Suites {
		if strings.HasSuffix(s, "/") {
			return errors.New("flat repository")
		}
	}
	if len(src.Components) == 0 {
		src.Components = []string{"main"}
	}
	signedBy = strings.TrimSpace(signedBy)
	switch {
	case strings.Contains(signedBy, "BEGIN PGP PUBLIC KEY BLOCK"):
		// An inline key, folded into continuation lines (the reader turns
		// the "." line after the armor header back into a blank one).
		if kr, err := ParseKeyring([]byte(signedBy)); err == nil {
			src.Keyring = kr
		}
	case signedBy != "":
		for _, p := range strings.Fields(signedBy) {
			if kr, err := ReadKeyring(p); err == nil {
				src.Keyring = append(src.Keyring, kr...)
			}
		}
	}
	return nil
}
