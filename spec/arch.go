package spec

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tinyboot/tinyboot/internal/arch"
	"gopkg.in/yaml.v3"
)

// Arches are the architectures a spec builds images for: `arch: arm64`
// or `arch: [amd64, arm64]`. Empty means arch.Default.
type Arches []string

// UnmarshalJSON accepts one name or a list of names; Parse checks both
// forms against schema.json with positions first.
func (a *Arches) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Arches{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("arch: want an architecture name or a list of them")
	}
	*a = many
	return nil
}

// MarshalJSON writes one architecture as a plain name.
func (a Arches) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalYAML accepts the same two forms as UnmarshalJSON, for callers
// decoding YAML directly.
func (a *Arches) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*a = Arches{n.Value}
		return nil
	}
	var many []string
	if err := n.Decode(&many); err != nil {
		return err
	}
	*a = many
	return nil
}

// MarshalYAML writes the form UnmarshalYAML reads.
func (a Arches) MarshalYAML() (any, error) {
	if len(a) == 1 {
		return a[0], nil
	}
	return []string(a), nil
}

// Arches are the architectures the spec builds for, arch.Default when it
// names none.
func (r *Resolved) Arches() []string {
	if len(r.s.Arch) == 0 {
		return []string{arch.Default}
	}
	return append([]string(nil), r.s.Arch...)
}

// ForArch is r for one of its architectures alone: the spec that image is
// built from (and whose arch is baked into it).
func (r *Resolved) ForArch(name string) *Resolved {
	c := r.s
	c.Arch = Arches{name}
	return &Resolved{s: c}
}

// Arch is the one architecture a single-architecture r builds for.
func (r *Resolved) Arch() arch.Arch {
	return arch.MustLookup(r.Arches()[0])
}

// specArches are the architectures the spec as written builds for.
func (c *checker) specArches() []arch.Arch {
	names := c.s.Arch
	if len(names) == 0 {
		names = Arches{arch.Default}
	}
	var out []arch.Arch
	for _, n := range names {
		if a, err := arch.Lookup(n); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// checkBinaryMachine checks a prebuilt app's ELF machine against the
// spec's architectures; a binary runs on one architecture only.
func (c *checker) checkBinaryMachine(ptr, p string, m elf.Machine, class elf.Class) bool {
	arches := c.specArches()
	if len(arches) > 1 {
		c.errorf(ptr, "use app.go, which is built for each architecture, or build one image per spec",
			"%s is one executable for one architecture, but arch lists %d", p, len(arches))
		return false
	}
	if len(arches) == 0 {
		return false
	}
	want := arches[0]
	if m == want.ELFMachine && class == elf.ELFCLASS64 {
		return true
	}
	got := m.String()
	if a, ok := arch.ByELFMachine(m); ok {
		got = fmt.Sprintf("%s (%s)", a.ELFName, a.Name)
	}
	c.errorf(ptr, fmt.Sprintf("build it with GOOS=linux GOARCH=%s CGO_ENABLED=0, or set arch to match it", want.Name),
		"%s is built for %s, but the image is %s (%s)", p, got, want.Name, want.ELFName)
	return false
}
