package assemble

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDoesNotImportSpec keeps the assembling step honest: it builds from a
// plan alone, so it must not be able to reach back into the spec.
func TestDoesNotImportSpec(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/tinyboot/tinyboot/spec" {
			t.Fatal("compose/assemble imports spec; give the plan what it needs instead")
		}
	}
}
