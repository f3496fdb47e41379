package compose_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/compose/iso"
	"github.com/tinyboot/tinyboot/spec"
)

// TestBuildAppOnISO builds the example with app.run_from: iso as an ISO
// and a raw disk: the app is an executable ELF file under /tinyboot on
// the ISO's filesystem, the initramfs holds the agent but no app, and the baked spec runs it from
// /iso. A format without the ISO is refused, naming it.
func TestBuildAppOnISO(t *testing.T) {
	r := loadExample(t)
	r.Spec().App.RunFrom = spec.RunFromISO
	dir := t.TempDir()
	res, err := compose.Build(context.Background(), r, compose.Options{Output: dir, Formats: []string{spec.FormatISO, spec.FormatRaw}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{spec.FormatISO, spec.FormatRaw} {
		p := filepath.Join(dir, compose.OutputName("hello", f))
		in, err := compose.Inspect(p)
		if err != nil {
			t.Fatalf("inspect %s: %v", f, err)
		}
		if got, want := in.Spec.App.Path, "/iso/tinyboot/hello"; got != want {
			t.Errorf("%s: baked app path %q, want %q", f, got, want)
		}
		var hasInit bool
		for _, e := range in.Initramfs {
			if e.Path == "/bin/hello" {
				t.Errorf("%s: the initramfs still holds the app", f)
			}
			hasInit = hasInit || e.Path == "/init"
		}
		if !hasInit {
			t.Errorf("%s: the initramfs has no /init", f)
		}
		im, err := iso.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := im.Stat("/tinyboot/hello")
		if err != nil {
			im.Close()
			t.Fatalf("%s: %v", f, err)
		}
		if fi.Mode.Perm()&0o111 == 0 {
			t.Errorf("%s: /tinyboot/hello has mode %v, want it executable", f, fi.Mode)
		}
		data, err := im.ReadFile("/tinyboot/hello")
		im.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), "\x7fELF") {
			t.Errorf("%s: /tinyboot/hello is not an ELF file", f)
		}
	}
	var parts []string
	for _, p := range res.Parts {
		parts = append(parts, p.Name)
	}
	if got := strings.Join(parts, ","); !strings.Contains(got, "app (on the ISO)") || !strings.HasPrefix(got, "agent,") {
		t.Errorf("size parts %s, want the agent alone in the initramfs and the app on the ISO", got)
	}

	_, err = compose.Build(context.Background(), r, compose.Options{Output: filepath.Join(dir, "u"), Formats: []string{spec.FormatISO, spec.FormatUKI}})
	if err == nil || !strings.Contains(err.Error(), "the uki format has no ISO to run the app from") {
		t.Errorf("building a UKI with app.run_from: iso: %v, want the uki format named", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "u")); err == nil {
		t.Errorf("a refused build left its output directory")
	}
}
