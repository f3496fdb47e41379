package debarchive

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/tinyboot/tinyboot/compose/deb"
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
	br := bufio.NewReaderSize(r, 1<<20)
	var cur *Package
	var last *string
	line := 0
	finish := func() error {
		if cur == nil {
			return nil
		}
		if cur.Name == "" || cur.Version == "" || cur.Filename == "" || len(cur.SHA256) != 64 {
			return fmt.Errorf("index line %d: paragraph of %q lacks Package, Version, Filename or SHA256", line, cur.Name)
		}
		emit(cur)
		cur, last = nil, nil
		return nil
	}
	for {
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A field longer than the buffer (a huge Description): only
			// continuation lines are that long, and none is kept.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			last = nil
			continue
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("index: %w", err)
		}
		if len(b) > 0 {
			line++
		}
		s := strings.TrimRight(string(b), "\r\n")
		switch {
		case s == "":
			if err := finish(); err != nil {
				return err
			}
		case s[0] == ' ' || s[0] == '\t':
			if last != nil {
				*last += " " + strings.TrimSpace(s)
			}
		default:
			k, v, ok := strings.Cut(s, ":")
			if !ok {
				return fmt.Errorf("index line %d: not a field: %.40q", line, s)
			}
			if cur == nil {
				cur = &Package{From: from}
			}
			v = strings.TrimSpace(v)
			last = nil
			switch k {
			case "Package":
				cur.Name = v
			case "Version":
				cur.Version = v
			case "Architecture":
				cur.Architecture = v
			case "Filename":
				cur.Filename = v
			case "SHA256":
				cur.SHA256 = strings.ToLower(v)
			case "Size":
				cur.Size, _ = strconv.ParseInt(v, 10, 64)
			case "Depends":
				cur.Depends, last = v, &cur.Depends
			case "Pre-Depends":
				cur.PreDepends, last = v, &cur.PreDepends
			case "Provides":
				cur.Provides, last = v, &cur.Provides
			}
		}
		if err == io.EOF {
			return finish()
		}
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
