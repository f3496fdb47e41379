package compose

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/compose/assemble"
	"github.com/tinyboot/tinyboot/compose/plan"
	"github.com/tinyboot/tinyboot/spec"
)

// TestPlanIsSelfContained resolves the fixture from another working
// directory: every host path in the plan is absolute, every default is
// applied, and each input says which spec field it came from.
func TestPlanIsSelfContained(t *testing.T) {
	f := newErrFixture(t)
	t.Chdir(t.TempDir())
	f.spec.Output = "out/custom.iso"
	f.opts.Output = ""
	p, err := Plan(context.Background(), f.spec.WithDefaults(), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{
		"app binary":  p.App.Binary,
		"stub":        p.Stub.Path,
		"vmlinuz":     p.Kernel.Vmlinuz,
		"modules dir": p.Kernel.ModulesDir,
		"output":      p.Outputs[0].Path,
		"payload":     p.Payload[0].Path,
	}
	for what, path := range paths {
		if !filepath.IsAbs(path) {
			t.Errorf("%s %q is not absolute", what, path)
		}
	}
	if want := f.path("out/custom.iso"); p.Outputs[0] != (plan.Output{Format: plan.FormatISO, Path: want}) {
		t.Errorf("outputs %+v, want the ISO at %s", p.Outputs, want)
	}
	if p.Payload[0].Origin != "files[0].src ./www" || p.Payload[0].Dst != "/www" {
		t.Errorf("payload %+v", p.Payload[0])
	}
	if p.CACerts.Path != "" {
		t.Errorf("ca_certs none planned %q", p.CACerts.Path)
	}
	c := p.Config
	if c.Hostname != "hello" || !c.Network.DHCP || c.App.Path != "/bin/hello" || c.App.Restart == "" {
		t.Errorf("baked config lacks defaults: %+v", c)
	}
	if !strings.Contains(p.Cmdline, "console=ttyS0") || p.VolumeID != "HELLO" {
		t.Errorf("cmdline %q volume %q", p.Cmdline, p.VolumeID)
	}
	// The fixture names its stub (the default comes from the archive):
	// the plan says so, and how to fix a bad one.
	if !strings.HasPrefix(p.Stub.Origin, "kernel.stub ") || !strings.Contains(p.Stub.Fix, "systemd-boot-efi") || p.StubPackage != nil {
		t.Errorf("stub %+v (package %v): want kernel.stub's origin and a fix naming systemd-boot-efi", p.Stub, p.StubPackage)
	}
}

// TestFormatsAgree: every format the spec accepts has a writer, and no
// writer is unreachable from the spec.
func TestFormatsAgree(t *testing.T) {
	want := slices.Clone(spec.OutputFormats)
	slices.Sort(want)
	if got := assemble.Formats(); !slices.Equal(got, want) {
		t.Errorf("writers for %v; the spec's formats are %v", got, want)
	}
}
