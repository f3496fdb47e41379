package kmod

import (
	"github.com/tinyboot/tinyboot/internal/elftest"

	"strings"
)

// buildKO writes a minimal ELF64 relocatable file, like a .ko, whose only
// sections are .modinfo (holding the given key=value entries, NUL
// terminated) and the section name table.
func buildKO(entries ...string) []byte { return elftest.KO(entries...) }

// mod describes a synthetic module for index tests.
type mod struct {
	name    string
	depends string // comma separated, as in .modinfo
	softdep string // e.g. "pre: a b post: c"
	aliases []string
}

// buildIndex makes an Index from synthetic modules, going through
// buildKO and ParseModinfo so the whole path is exercised.
func buildIndex(mods []mod, builtin ...string) (*Index, error) {
	x := NewIndex()
	for _, m := range mods {
		entries := []string{"license=GPL"}
		for _, a := range m.aliases {
			entries = append(entries, "alias="+a)
		}
		if m.softdep != "" {
			entries = append(entries, "softdep="+m.softdep)
		}
		entries = append(entries, "depends="+m.depends, "intree=Y", "name="+m.name, "vermagic=6.1.0-test SMP mod_unload ")
		info, err := ParseModinfo(buildKO(entries...))
		if err != nil {
			return nil, err
		}
		if err := x.Add("kernel/drivers/"+strings.ReplaceAll(m.name, "_", "-")+".ko", info); err != nil {
			return nil, err
		}
	}
	x.MarkBuiltin(builtin)
	return x, nil
}
