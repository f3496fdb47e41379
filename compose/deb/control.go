package deb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tinyboot/tinyboot/internal/deb822"
)

// Control is a binary package's control file (deb-control(5)).
type Control struct {
	Package      string
	Version      string
	Architecture string
	// Depends and PreDepends are in conjunctive normal form: every inner
	// slice must be satisfied by one of its alternatives ("a | b").
	Depends    [][]Dependency
	PreDepends [][]Dependency
	// Provides lists virtual packages, optionally versioned ("foo (= 1)").
	Provides []Dependency
	// Fields holds every field as written (continuation lines joined with
	// '\n'), keyed by its canonical name as spelled in the file.
	Fields map[string]string
}

// Dependency is one package relation such as "libc6 (>= 2.36)".
type Dependency struct {
	Name string
	// Arch is the architecture qualifier after ':' ("any", "amd64"), if any.
	Arch string
	// Relation is one of "<<", "<=", "=", ">=", ">>", or empty when the
	// relation is unversioned.
	Relation string
	Version  string
}

// String formats the dependency as it appears in a control file.
func (d Dependency) String() string {
	s := d.Name
	if d.Arch != "" {
		s += ":" + d.Arch
	}
	if d.Relation != "" {
		s += " (" + d.Relation + " " + d.Version + ")"
	}
	return s
}

// ParseControl parses a control file holding a single paragraph.
func ParseControl(b []byte) (*Control, error) {
	fields, order, err := parseParagraph(b)
	if err != nil {
		return nil, err
	}
	c := &Control{
		Package:      fields[order["package"]],
		Version:      fields[order["version"]],
		Architecture: fields[order["architecture"]],
		Fields:       fields,
	}
	if c.Package == "" {
		return nil, fmt.Errorf("control: missing Package field")
	}
	rel := func(name string) ([][]Dependency, error) {
		v, ok := order[name]
		if !ok {
			return nil, nil
		}
		d, err := ParseDepends(fields[v])
		if err != nil {
			return nil, fmt.Errorf("control: %s: %w", v, err)
		}
		return d, nil
	}
	if c.Depends, err = rel("depends"); err != nil {
		return nil, err
	}
	if c.PreDepends, err = rel("pre-depends"); err != nil {
		return nil, err
	}
	provides, err := rel("provides")
	if err != nil {
		return nil, err
	}
	for _, alt := range provides {
		if len(alt) != 1 {
			return nil, fmt.Errorf("control: Provides: alternatives are not allowed")
		}
		c.Provides = append(c.Provides, alt[0])
	}
	return c, nil
}

// parseParagraph reads the first deb822 paragraph of b. It returns the
// fields and a map from lower-cased field name to the name as spelled,
// because field names are case-insensitive.
func parseParagraph(b []byte) (map[string]string, map[string]string, error) {
	fields := map[string]string{}
	names := map[string]string{}
	p, err := deb822.NewReader(bytes.NewReader(b)).Next()
	if errors.Is(err, io.EOF) {
		return fields, names, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("control: %w", err)
	}
	for _, f := range p.Fields {
		names[strings.ToLower(f.Name)] = f.Name
		fields[f.Name] = f.Value
	}
	return fields, names, nil
}

// ParseDepends parses a relationship field such as Depends:
// "a (>= 1) | b, c:any". Architecture restrictions ("[amd64]") and build
// profiles ("<!nocheck>") are accepted and dropped, since they only matter
// when building from source.
func ParseDepends(s string) ([][]Dependency, error) {
	var out [][]Dependency
	for _, group := range strings.Split(s, ",") {
		group = strings.TrimSpace(group)
		if group == "" {
			continue
		}
		var alts []Dependency
		for _, alt := range strings.Split(group, "|") {
			d, err := parseDependency(alt)
			if err != nil {
				return nil, err
			}
			alts = append(alts, d)
		}
		out = append(out, alts)
	}
	return out, nil
}

func parseDependency(s string) (Dependency, error) {
	orig := strings.TrimSpace(s)
	s = stripBracketed(orig, '[', ']')
	s = stripBracketed(s, '<', '>')
	var d Dependency
	name, rest, _ := strings.Cut(s, "(")
	name = strings.Join(strings.Fields(name), "")
	if name == "" {
		return d, fmt.Errorf("empty package name in %q", truncate(orig, 60))
	}
	d.Name, d.Arch, _ = strings.Cut(name, ":")
	if !validPackageName(d.Name) {
		return d, fmt.Errorf("bad package name %q", truncate(d.Name, 60))
	}
	if strings.Contains(s, "(") {
		inner, tail, ok := strings.Cut(rest, ")")
		if !ok || strings.TrimSpace(tail) != "" {
			return d, fmt.Errorf("bad version constraint in %q", truncate(orig, 60))
		}
		inner = strings.TrimSpace(inner)
		for _, op := range []string{"<<", "<=", ">=", ">>", "=", "<", ">"} {
			if strings.HasPrefix(inner, op) {
				d.Relation = op
				d.Version = strings.TrimSpace(inner[len(op):])
				break
			}
		}
		// The bare "<" and ">" are obsolete spellings of "<=" and ">=".
		switch d.Relation {
		case "<":
			d.Relation = "<="
		case ">":
			d.Relation = ">="
		case "":
			return d, fmt.Errorf("bad version relation in %q", truncate(orig, 60))
		}
		if d.Version == "" || strings.ContainsAny(d.Version, " \t") {
			return d, fmt.Errorf("bad version in %q", truncate(orig, 60))
		}
	}
	return d, nil
}

// stripBracketed removes every open...close span from s.
func stripBracketed(s string, open, close byte) string {
	for {
		i := strings.IndexByte(s, open)
		if i < 0 {
			return s
		}
		j := strings.IndexByte(s[i:], close)
		if j < 0 {
			return s
		}
		s = s[:i] + s[i+j+1:]
	}
}

// validPackageName checks the policy's package name syntax, lowercase
// letters, digits and "+-.", loosely: the first character may be any of
// them, as virtual package names in the wild sometimes start with one.
func validPackageName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return s != ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
