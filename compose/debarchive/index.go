package debarchive

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/tinyboot/tinyboot/compose/deb"
	"github.com/tinyboot/tinyboot/internal/deb822"
)

// Package is one binary package an archive's Packages index lists.
type Package struct {
	Name, Version, Architecture string
	// Filename is the pool path below the archive's URL.
	Filename string
	SHA256   string
	Size     int64
	// Depends, PreDepends and Provides are the relationship fields as
	// written.
	Depends, PreDepends, Provides string
	// From is the archive, suite and component listing the package.
	From Origin
}

// Origin names where a package was found.
type Origin struct {
	URL       string `json:"url"`
	Suite     string `json:"suite,omitempty"`
	Component string `json:"component,omitempty"`
}

func (o Origin) String() string {
	if o.Suite == "" {
		return o.URL
	}
	return o.URL + " " + o.Suite + "/" + o.Component
}

// index is one parsed Packages file.
type index struct {
	from     Origin
	arch     string
	packages map[string][]*Package
	provides map[string][]*Package
}

// readIndex parses the verified, cached Packages file at p, compressed as
// name says.
func readIndex(p, name string, from Origin, arch string) (*index, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	rc, err := deb.OpenCompressed(name, io.NewSectionReader(f, 0, fi.Size()))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	idx := &index{from: from, arch: arch, packages: map[string][]*Package{}, provides: map[string][]*Package{}}
	if err := parsePackages(rc, from, func(p *Package) {
		idx.packages[p.Name] = append(idx.packages[p.Name], p)
		for _, v := range providedNames(p.Provides) {
			idx.provides[v] = append(idx.provides[v], p)
		}
	}); err != nil {
		return nil, err
	}
	return idx, nil
}

// parsePackages streams the paragraphs of a Packages file, keeping only
// the fields resolution needs: a full index has tens of thousands of
// paragraphs, most of which are never looked at.
func parsePackages(r io.Reader, from Origin, emit func(*Package)) error {
	dr := deb822.NewReader(r)
	dr.Keep("Package", "Version", "Architecture", "Filename", "SHA256", "Size", "Depends", "Pre-Depends", "Provides")
	for {
		para, err := dr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("index: %w", err)
		}
		p := &Package{From: from}
		for _, f := range para.Fields {
			switch f.Key {
			case "package":
				p.Name = f.Value
			case "version":
				p.Version = f.Value
			case "architecture":
				p.Architecture = f.Value
			case "filename":
				p.Filename = f.Value
			case "sha256":
				p.SHA256 = strings.ToLower(f.Value)
			case "size":
				p.Size, _ = strconv.ParseInt(f.Value, 10, 64)
			case "depends":
				p.Depends = f.Value
			case "pre-depends":
				p.PreDepends = f.Value
			case "provides":
				p.Provides = f.Value
			}
		}
		if p.Name == "" || p.Version == "" || p.Filename == "" || len(p.SHA256) != 64 {
			return fmt.Errorf("index line %d: paragraph of %q lacks Package, Version, Filename or SHA256", para.Line, p.Name)
		}
		emit(p)
	}
}

// providedNames lists the virtual package names of a Provides field.
func providedNames(provides string) []string {
	if provides == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(provides, ",") {
		if f := strings.Fields(p); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

// checkPoolPath refuses pool paths that could point outside the archive.
func checkPoolPath(p string) error {
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "../") || strings.Contains(p, "://") {
		return fmt.Errorf("pool path %q is not a clean path below the archive", p)
	}
	return nil
}
