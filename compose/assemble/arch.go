package assemble

import (
	"github.com/tinyboot/tinyboot/compose/plan"
	"github.com/tinyboot/tinyboot/internal/arch"
)

// planArch is the plan's architecture; a plan made without one (older
// callers, tests) is amd64's.
func planArch(p *plan.Plan) arch.Arch {
	if p.Arch.Name == "" {
		return arch.MustLookup(arch.Default)
	}
	return p.Arch
}

// espBootPath is where p's UKI lives in its ESP.
func espBootPath(p *plan.Plan) string { return planArch(p).ESPBootPath }
