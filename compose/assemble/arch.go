package assemble

import (
	"bytes"
	"debug/pe"
	"fmt"

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

// checkStubArch refuses a UEFI stub built for another architecture than
// the image's: firmware would not start it. A stub that is no PE file at
// all is left to the UKI builder, which says what is wrong with it.
func checkStubArch(p *plan.Plan, stub []byte) error {
	f, err := pe.NewFile(bytes.NewReader(stub))
	if err != nil {
		return nil
	}
	defer f.Close()
	want := planArch(p)
	if f.Machine == want.PEMachine {
		return nil
	}
	got := fmt.Sprintf("COFF machine %#x", f.Machine)
	if a, ok := arch.ByPEMachine(f.Machine); ok {
		got = a.Name
	}
	return fmt.Errorf("%s: a UEFI stub for %s, but the image is %s; %s", p.Stub.Origin, got, want.Name, p.Stub.Fix)
}
