package compose

import (
	"github.com/tinyboot/tinyboot/compose/kmod"
	"github.com/tinyboot/tinyboot/compose/plan"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// coldplugTable turns a load order into the modules to ship with what the
// agent's coldplug needs of each: its alias patterns, the shipped modules
// it needs first (only earlier ones, so the agent can never wait in a
// cycle) and whether the spec asks for it whatever the hardware. always
// are the spec's own module names; what they need is always loaded too.
func coldplugTable(idx *kmod.Index, order []kmod.Module, always []string) []plan.Module {
	pos := map[string]int{}
	for i, m := range order {
		pos[m.Name] = i
	}
	alwaysSet := map[string]bool{}
	if mods, err := idx.Resolve(always); err == nil {
		for _, m := range mods {
			alwaysSet[m.Name] = true
		}
	}
	out := make([]plan.Module, 0, len(order))
	for i, m := range order {
		var needs []string
		for _, n := range idx.Needs(m) {
			if p, ok := pos[n]; ok && p < i {
				needs = append(needs, n)
			}
		}
		out = append(out, plan.Module{
			Name: m.Name, Path: modulePath(m.Path), Source: m.Path,
			Aliases: m.Info.Aliases, Needs: needs, Always: alwaysSet[m.Name],
		})
	}
	return out
}

// bakedModules is the module table of the baked spec.
func bakedModules(mods []plan.Module) []baked.Module {
	out := make([]baked.Module, len(mods))
	for i, m := range mods {
		out[i] = baked.Module{Name: m.Name, Path: m.Path, Aliases: m.Aliases, Needs: m.Needs, Always: m.Always}
	}
	return out
}
