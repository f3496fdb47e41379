package agent

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"syscall"

	"github.com/tinyboot/tinyboot/agent/console"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// ModulesDir is where the initramfs holds kernel modules.
const ModulesDir = "/lib/modules"

// loadModules loads mods in order. A module that is already loaded
// (EEXIST) counts as loaded; a failure is logged and the rest still load,
// since a missing driver should not stop a machine that may not need it.
// ENODEV is the kernel's way for a module to say the machine lacks what it
// drives (a CPU without the instructions a crypto module accelerates, say):
// expected, so those are named once in the summary, not logged as errors.
func loadModules(sys System, log *console.Logger, clock Clock, kver string, mods []baked.Module) {
	if len(mods) == 0 {
		return
	}
	start := clock.Now()
	ok := 0
	var absent []string
	for _, m := range mods {
		err := sys.LoadModule(path.Join(ModulesDir, kver, m.Path), m.Params)
		if err == nil || errors.Is(err, syscall.EEXIST) {
			ok++
			continue
		}
		name := m.Name
		if name == "" {
			name = path.Base(m.Path)
		}
		if errors.Is(err, syscall.ENODEV) {
			absent = append(absent, name)
			continue
		}
		log.Printf("modules: %s: %v", name, err)
	}
	summary := fmt.Sprintf("modules: loaded %d of %d in %s", ok, len(mods), console.Dur(clock.Now().Sub(start)))
	if len(absent) > 0 {
		summary += " (not for this machine: " + strings.Join(absent, " ") + ")"
	}
	log.Printf("%s", summary)
}
