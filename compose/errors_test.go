package compose

import (
	"github.com/tinyboot/tinyboot/internal/elftest"

	"context"
	"debug/elf"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/compose/initramfs"
	"github.com/tinyboot/tinyboot/spec"
)

// hostStub is systemd's UEFI stub as the test machine's systemd-boot-efi
// installs it; the fixture uses it so that no build reaches an archive.
const hostStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

// errFixture is a spec over a synthetic kernel (any bytes for vmlinuz, an
// empty module tree: missing base modules are skipped) with a static app
// and agent, built straight through Build so that inputs the spec
// validator would reject, or that change after validation, reach the
// stages.
type errFixture struct {
	t     *testing.T
	dir   string
	spec  *spec.Spec
	opts  Options
	agent string
}

func newErrFixture(t *testing.T) *errFixture {
	t.Helper()
	if _, err := os.Stat(hostStub); err != nil {
		t.Skipf("%s is missing (apt-get install systemd-boot-efi)", hostStub)
	}
	f := &errFixture{t: t, dir: t.TempDir()}
	f.write("kernel/vmlinuz", []byte("not really a kernel"))
	if err := os.MkdirAll(f.path("kernel/6.1.0-test"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.agent = f.write("agent", x86Exec(""))
	f.write("app", x86Exec(""))
	f.write("www/index.html", []byte("hello\n"))
	f.write("out/hello.iso", []byte("the previous image"))
	f.spec = &spec.Spec{
		Name:    "hello",
		Kernel:  spec.Kernel{Vmlinuz: "./kernel/vmlinuz", ModulesDir: "./kernel/6.1.0-test", Stub: hostStub},
		App:     spec.App{Binary: "./app"},
		Files:   []spec.File{{Src: "./www", Dst: "/www"}},
		CACerts: "none",
		Dir:     f.dir,
	}
	f.opts = Options{Output: f.path("out/hello.iso"), Compression: initramfs.None, AgentPath: f.agent, CacheDir: t.TempDir(), Epoch: DefaultEpoch}
	return f
}

func (f *errFixture) path(rel string) string { return filepath.Join(f.dir, filepath.FromSlash(rel)) }

func (f *errFixture) write(rel string, data []byte) string {
	f.t.Helper()
	p := f.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o755); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// outNames lists the output directory.
func (f *errFixture) outNames() []string {
	f.t.Helper()
	entries, err := os.ReadDir(f.path("out"))
	if err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestBuildErrorMessages covers what the spec validator cannot see: inputs
// that change between validation and the build, and the composer's own
// messages for inputs it would reject.
func TestBuildErrorMessages(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *errFixture)
		want  []string
	}{
		{"dynamic app", func(f *errFixture) {
			f.write("app", x86Exec("/lib64/ld-linux-x86-64.so.2"))
		}, []string{"app.binary", "/app:", `interpreter "/lib64/ld-linux-x86-64.so.2"`, "CGO_ENABLED=0"}},
		{"hostile interpreter", func(f *errFixture) {
			f.write("app", x86Exec("/lib/\x1b[31mld.so"))
		}, []string{"app.binary", `interpreter "/lib/\x1b[31mld.so"`}},
		{"app vanished", func(f *errFixture) {
			os.Remove(f.path("app"))
		}, []string{"app.binary", "no such file"}},
		{"vmlinuz vanished", func(f *errFixture) {
			os.Remove(f.path("kernel/vmlinuz"))
		}, []string{"kernel.vmlinuz", "no such file", "kernel image"}},
		{"modules_dir is a file", func(f *errFixture) {
			os.Remove(f.path("kernel/6.1.0-test"))
			f.write("kernel/6.1.0-test", nil)
		}, []string{"kernel.modules_dir", "not a directory", "lib/modules/<version>"}},
		{"stub vanished", func(f *errFixture) {
			f.spec.Kernel.Stub = "./gone.efi"
		}, []string{"kernel.stub ./gone.efi:", "no such file", "linuxx64.efi.stub"}},
		{"payload vanished", func(f *errFixture) {
			f.spec.Files = append(f.spec.Files, spec.File{Src: "./gone", Dst: "/gone"})
		}, []string{"files[1].src ./gone:", "vanished", "no such file"}},
		{"socket inside a payload tree", func(f *errFixture) {
			l, err := net.Listen("unix", f.path("www/ctl.sock"))
			if err != nil {
				f.t.Fatal(err)
			}
			f.t.Cleanup(func() { l.Close() })
		}, []string{"files[0].src ./www:", "ctl.sock is a socket", "regular files"}},
		{"unknown module", func(f *errFixture) {
			f.spec.Modules = []string{"nope"}
		}, []string{"modules: kernel 6.1.0-test:", `unknown kernel module "nope"`, "remove nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newErrFixture(t)
			tt.setup(f)
			_, err := Build(context.Background(), f.spec.WithDefaults(), f.opts)
			if err == nil {
				t.Fatal("build succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if got := f.outNames(); !slices.Equal(got, []string{"hello.iso"}) {
				t.Errorf("output directory holds %v after a failed build", got)
			}
			if b, _ := os.ReadFile(f.opts.Output); string(b) != "the previous image" {
				t.Errorf("previous image changed: %q", b)
			}
		})
	}
}

// TestFixtureBuilds makes sure the fixture itself builds, so the failures
// above come from what each case breaks.
func TestFixtureBuilds(t *testing.T) {
	f := newErrFixture(t)
	res, err := Build(context.Background(), f.spec.WithDefaults(), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.KernelVersion != "6.1.0-test" || res.Size == 0 {
		t.Errorf("result %+v", res)
	}
	if got := f.outNames(); !slices.Equal(got, []string{"hello.iso"}) {
		t.Errorf("output directory holds %v", got)
	}
}

// x86Exec is a static (interp "") or dynamic x86-64 executable header.
func x86Exec(interp string) []byte { return elftest.Exec(elf.EM_X86_64, interp) }
