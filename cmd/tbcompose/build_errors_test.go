package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/internal/debtest"
	"github.com/tinyboot/tinyboot/internal/elftest"
)

// buildTool builds tbcompose into a temp dir. CGO is off, so the binary is
// a static x86-64 ELF and doubles as the app and the agent of the test
// images: nothing in them ever runs.
func buildTool(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tbcompose")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// module is the .ko of a synthetic module.
func module(name, depends string) []byte {
	return elftest.KO("license=GPL", "depends="+depends, "intree=Y", "name="+name, "vermagic=6.1.0-test SMP mod_unload ")
}

// tarEntry is one member of a synthetic data.tar.
type tarEntry = debtest.Entry

// debBytes is a .deb (ar archive, uncompressed control.tar and data.tar)
// holding files.
func debBytes(t *testing.T, pkg string, files []tarEntry) []byte {
	return debtest.Deb(t, pkg, files)
}

// kernelDeb is a synthetic kernel package: a fake vmlinuz and one module.
func kernelDeb(t *testing.T) []byte {
	return debBytes(t, "linux-image-6.1.0-test", []tarEntry{
		{Name: "./boot/", Data: nil},
		{Name: "./boot/vmlinuz-6.1.0-test", Data: []byte("not really a kernel")},
		{Name: "./lib/modules/6.1.0-test/kernel/drivers/net/virtio_net.ko", Data: module("virtio_net", "")},
	})
}

// fixture is a directory holding a spec and everything it refers to: a
// synthetic kernel (fake vmlinuz, tiny .ko files), a static app and the
// agent, so that a build takes a second and never touches apt.
type fixture struct {
	t     *testing.T
	dir   string
	bin   string // tbcompose, also the app and the agent
	cache string // XDG_CACHE_HOME for the builds
	out   string // default -o
}

func newFixture(t *testing.T, bin string) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), bin: bin, cache: t.TempDir()}
	f.out = f.path("out/hello.iso")
	f.write("kernel/vmlinuz", []byte("not really a kernel"))
	f.write("kernel/6.1.0-test/kernel/drivers/net/virtio_net.ko", module("virtio_net", ""))
	f.write("kernel/6.1.0-test/kernel/drivers/net/e1000.ko", module("e1000", ""))
	f.write("kernel/6.1.0-test/kernel/drivers/misc/needy.ko", module("needy", "helper_missing"))
	f.write("www/index.html", []byte("hello\n"))
	if err := os.MkdirAll(f.path("out"), 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) path(rel string) string { return filepath.Join(f.dir, filepath.FromSlash(rel)) }

func (f *fixture) write(rel string, data []byte) string {
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

// hostStub is systemd's UEFI stub as Debian's systemd-boot-efi installs
// it on the test machine.
const hostStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

// specYAML is a valid spec over the fixture; edit replaces parts of it.
const specYAML = `name: hello
kernel: {vmlinuz: ./kernel/vmlinuz, modules_dir: ./kernel/6.1.0-test}
app: {binary: BIN}
files:
  - {src: ./www, dst: /www}
ca_certs: none
`

// spec writes tinyboot.yaml: specYAML with each old→new pair applied.
func (f *fixture) spec(edits ...string) string {
	f.t.Helper()
	s := strings.ReplaceAll(specYAML, "BIN", f.bin)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(s, edits[i]) {
			f.t.Fatalf("spec edit %q matches nothing", edits[i])
		}
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	// The stub is the host's, so that these builds never reach a package
	// archive.
	if !strings.Contains(s, "stub:") && !strings.Contains(s, "package:") {
		s = strings.Replace(s, "kernel: {", "kernel: {stub: "+hostStub+", ", 1)
	}
	return f.write("tinyboot.yaml", []byte(s))
}

// build runs tbcompose build and returns its exit code and stderr.
func (f *fixture) build(env []string, args ...string) (int, string) {
	f.t.Helper()
	cmd := f.command(env, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), stderr.String()
	}
	f.t.Fatalf("tbcompose %v: %v\n%s", args, err, stderr.String())
	return -1, ""
}

func (f *fixture) command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(f.bin, append([]string{"build", "--agent", f.bin, "--compression", "none"}, args...)...)
	cmd.Env = append(append(os.Environ(), "XDG_CACHE_HOME="+f.cache, "SOURCE_DATE_EPOCH="), env...)
	return cmd
}

// stackFrame matches a frame of a Go stack trace ("\t/x/y.go:12 +0x1f").
var stackFrame = regexp.MustCompile(`\.go:\d+ \+0x[0-9a-f]+`)

// assertClean fails if stderr shows a panic or a Go stack trace, or a
// bare io error with nothing to act on.
func assertClean(t *testing.T, stderr string) {
	t.Helper()
	for _, bad := range []string{"panic:", "goroutine ", "runtime/debug"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr shows %q:\n%s", bad, stderr)
		}
	}
	if stackFrame.MatchString(stderr) {
		t.Errorf("stderr shows a stack frame:\n%s", stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasSuffix(line, ": EOF") || strings.HasSuffix(line, "unexpected EOF") {
			t.Errorf("bare EOF in %q", line)
		}
	}
}

// mountTmpfs mounts a small tmpfs at dir, skipping the test where that is
// not allowed, and unmounts it at cleanup.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s); needs root", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

func TestBuildErrors(t *testing.T) {
	if _, err := os.Stat("/usr/lib/systemd/boot/efi/linuxx64.efi.stub"); err != nil {
		t.Skip("systemd-boot-efi is not installed")
	}
	bin := buildTool(t)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/linux.deb" {
			w.Write(kernelDeb(t))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	wrongSum := strings.Repeat("ab", 32)

	tests := []struct {
		name  string
		setup func(f *fixture) (env, args []string)
		code  int
		want  []string
		// cached, when set, is checked to hold no .deb after the build.
		noCache bool
	}{
		{
			name: "unknown module",
			setup: func(f *fixture) ([]string, []string) {
				return nil, []string{f.spec("ca_certs: none", "ca_certs: none\nmodules: [virtio_nte]"), "-o", f.out}
			},
			code: 1,
			want: []string{"modules:", `unknown kernel module "virtio_nte"`, "did you mean virtio_net?", "6.1.0-test"},
		},
		{
			name: "missing dependency",
			setup: func(f *fixture) ([]string, []string) {
				return nil, []string{f.spec("ca_certs: none", "ca_certs: none\nmodules: [needy]"), "-o", f.out}
			},
			code: 1,
			want: []string{"modules:", "needy depends on helper_missing", "remove needy"},
		},
		{
			name: "dynamic app",
			setup: func(f *fixture) ([]string, []string) {
				p := f.write("app-dyn", elftest.Exec(elf.EM_X86_64, "/lib64/ld-linux-x86-64.so.2"))
				return nil, []string{f.spec("binary: "+f.bin, "binary: "+p), "-o", f.out}
			},
			code: 1,
			want: []string{"app.binary", "dynamically linked", "CGO_ENABLED=0"},
		},
		{
			name: "arm64 app",
			setup: func(f *fixture) ([]string, []string) {
				p := f.write("app-arm", elftest.Exec(elf.EM_AARCH64, ""))
				return nil, []string{f.spec("binary: "+f.bin, "binary: "+p), "-o", f.out}
			},
			code: 1,
			want: []string{"app.binary", "app-arm", "GOARCH=amd64"},
		},
		{
			name: "non-ELF app",
			setup: func(f *fixture) ([]string, []string) {
				p := f.write("app.sh", []byte("#!/bin/sh\necho hi\n"))
				return nil, []string{f.spec("binary: "+f.bin, "binary: "+p), "-o", f.out}
			},
			code: 1,
			want: []string{"app.binary", "app.sh", "not an ELF", "GOOS=linux GOARCH=amd64"},
		},
		{
			name: "go package does not build",
			setup: func(f *fixture) ([]string, []string) {
				f.write("bad/go.mod", []byte("module example.com/bad\n\ngo 1.21\n"))
				f.write("bad/main.go", []byte("package main\n\nfunc main() { undefinedThing() }\n"))
				return nil, []string{f.spec("binary: "+f.bin, "go: ./bad"), "-o", f.out}
			},
			code: 1,
			want: []string{"app.go ./bad:", "go build failed", "undefined: undefinedThing", "fix"},
		},
		{
			name: "truncated deb",
			setup: func(f *fixture) ([]string, []string) {
				d := kernelDeb(f.t)
				f.write("linux.deb", d[:len(d)/2])
				return nil, []string{f.spec("{vmlinuz: ./kernel/vmlinuz, modules_dir: ./kernel/6.1.0-test}", "{deb: [./linux.deb]}"), "-o", f.out}
			},
			code: 1,
			want: []string{"kernel.deb[0]", "linux.deb:", "truncated", "download"},
		},
		{
			name: "garbage deb",
			setup: func(f *fixture) ([]string, []string) {
				f.write("linux.deb", bytes.Repeat([]byte("garbage!"), 100))
				return nil, []string{f.spec("{vmlinuz: ./kernel/vmlinuz, modules_dir: ./kernel/6.1.0-test}", "{deb: [./linux.deb]}"), "-o", f.out}
			},
			code: 1,
			want: []string{"kernel.deb[0]", "linux.deb:", "not a Debian package"},
		},
		{
			name: "deb without a kernel",
			setup: func(f *fixture) ([]string, []string) {
				f.write("hello.deb", debBytes(f.t, "hello", []tarEntry{{Name: "./usr/bin/hello", Data: []byte("#!/bin/sh\n")}}))
				return nil, []string{f.spec("{vmlinuz: ./kernel/vmlinuz, modules_dir: ./kernel/6.1.0-test}", "{deb: [./hello.deb]}"), "-o", f.out}
			},
			code: 1,
			want: []string{"kernel.deb:", "hello 6.1.1-1", "no kernel image", "linux-image"},
		},
		{
			name: "url 404",
			setup: func(f *fixture) ([]string, []string) {
				return nil, []string{f.spec("{vmlinuz: ./kernel/vmlinuz, modules_dir: ./kernel/6.1.0-test}",
					"{deb: [{url: '"+srv.URL+"/missing.deb', sha256: "+wrongSum+"}]}"), "-o", f.out}
			},
			code:    1,
			want:    []string{"kernel.deb[0] " + srv.URL + "/missing.deb:", "404", "check the url"},
			noCache: true,
		},
		{
			name: "url sha256 mismatch",
			setup: func(f *fixture) ([]string, []string) {
				return nil, []string{f.spec("{vmlinuz: ./kernel/vmlinuz, modules_dir: ./kernel/6.1.0-test}",
					"{deb: [{url: '"+srv.URL+"/linux.deb', sha256: "+wrongSum+"}]}"), "-o", f.out}
			},
			code:    1,
			want:    []string{"kernel.deb[0] " + srv.URL + "/linux.deb:", "sha256 mismatch", wrongSum, "nothing was cached"},
			noCache: true,
		},
		{
			name: "stub not PE",
			setup: func(f *fixture) ([]string, []string) {
				f.write("stub.efi", []byte("this is not a PE image"))
				return nil, []string{f.spec("modules_dir: ./kernel/6.1.0-test}", "modules_dir: ./kernel/6.1.0-test, stub: ./stub.efi}"), "-o", f.out}
			},
			code: 1,
			want: []string{"kernel.stub", "stub.efi:", "not a PE image", "linuxx64.efi.stub"},
		},
		{
			name: "payload is a FIFO",
			setup: func(f *fixture) ([]string, []string) {
				if err := syscall.Mkfifo(f.path("pipe"), 0o644); err != nil {
					f.t.Fatal(err)
				}
				return nil, []string{f.spec("{src: ./www, dst: /www}", "{src: ./www, dst: /www}\n  - {src: ./pipe, dst: /pipe}"), "-o", f.out}
			},
			code: 1,
			want: []string{"files[1].src ./pipe:", "named pipe", "regular files"},
		},
		{
			name: "output directory missing",
			setup: func(f *fixture) ([]string, []string) {
				return nil, []string{f.spec(), "-o", f.path("nope/hello.iso")}
			},
			code: 1,
			want: []string{"output directory", "nope", "does not exist", "create it"},
		},
		{
			name: "output directory is a file",
			setup: func(f *fixture) ([]string, []string) {
				f.write("afile", []byte("x"))
				return nil, []string{f.spec(), "-o", f.path("afile/hello.iso")}
			},
			code: 1,
			want: []string{"output directory", "afile", "not a directory"},
		},
		{
			name: "output directory not writable",
			setup: func(f *fixture) ([]string, []string) {
				return nil, []string{f.spec(), "-o", "/sys/hello.iso"}
			},
			code: 1,
			want: []string{"output directory /sys", "not writable", "with -o"},
		},
		{
			name: "output on a read-only filesystem",
			setup: func(f *fixture) ([]string, []string) {
				mountTmpfs(f.t, f.path("ro"), "ro,size=1m")
				return nil, []string{f.spec(), "-o", f.path("ro/hello.iso")}
			},
			code: 1,
			want: []string{"output directory", "read-only file system", "with -o"},
		},
		{
			name: "disk full",
			setup: func(f *fixture) ([]string, []string) {
				mountTmpfs(f.t, f.path("small"), "size=1m")
				f.write("big.bin", bytes.Repeat([]byte{0xa5}, 2<<20))
				return nil, []string{f.spec("{src: ./www, dst: /www}", "{src: ./www, dst: /www}\n  - {src: ./big.bin, dst: /big.bin}"), "-o", f.path("small/hello.iso")}
			},
			code: 1,
			want: []string{"no space left on device", "free some space", "small", "with -o"},
		},
		{
			name: "archive unreachable",
			setup: func(f *fixture) ([]string, []string) {
				return nil, []string{f.spec("{vmlinuz: ./kernel/vmlinuz, modules_dir: ./kernel/6.1.0-test}", "{package: linux-image-amd64}",
					"ca_certs: none", "ca_certs: none\narchive: [{url: http://127.0.0.1:1/debian, suites: [bookworm]}]"), "-o", f.out}
			},
			code: 1,
			want: []string{"kernel.package linux-image-amd64:", "archive http://127.0.0.1:1/debian suite bookworm", "reachable", "check the URL"},
		},
		{
			name: "spec file missing",
			setup: func(f *fixture) ([]string, []string) {
				return nil, []string{f.path("missing.yaml"), "-o", f.out}
			},
			code: 2,
			want: []string{"missing.yaml"},
		},
		{
			name: "bad flag",
			setup: func(f *fixture) ([]string, []string) {
				return nil, []string{f.spec(), "--compression", "lz4"}
			},
			code: 2,
			want: []string{"--compression"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, bin)
			// Every failing build must leave the output directory as it was:
			// the previous image, byte for byte, and nothing else.
			old := f.write("out/hello.iso", []byte("the previous image"))
			env, args := tt.setup(f)
			code, stderr := f.build(env, args...)
			t.Logf("exit %d: %s", code, stderr[max(0, strings.LastIndex(stderr, "tbcompose:")):])
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			assertClean(t, stderr)
			if b, err := os.ReadFile(old); err != nil || string(b) != "the previous image" {
				t.Errorf("previous image changed: %q, %v", b, err)
			}
			if names := dirNames(t, f.path("out")); !slices.Equal(names, []string{"hello.iso"}) {
				t.Errorf("output directory holds %v after a failed build, want only hello.iso", names)
			}
			if tt.noCache {
				debs := filepath.Join(f.cache, "tinyboot", "debs")
				if names := dirNames(t, debs); len(names) > 0 {
					t.Errorf("cache %s holds %v after a failed download", debs, names)
				}
			}
		})
	}
}

// dirNames lists dir; a missing dir is empty.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestBuildSucceedsAndCleansStale checks that the fixture builds, and that
// a build removes what killed builds left beside the output while leaving
// a live build's locked temp file alone.
func TestBuildSucceedsAndCleansStale(t *testing.T) {
	if _, err := os.Stat("/usr/lib/systemd/boot/efi/linuxx64.efi.stub"); err != nil {
		t.Skip("systemd-boot-efi is not installed")
	}
	f := newFixture(t, buildTool(t))
	f.write("out/.tbcompose-hello.iso-123", []byte("half an image"))
	f.write("out/.tbcompose-work-456/.lock", nil)
	f.write("out/.tbcompose-work-456/esp.img", []byte("scratch"))
	f.write("out/.tbcompose-work-789/scratch", []byte("killed before its lock existed"))
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(f.path("out/.tbcompose-work-789"), old, old); err != nil {
		t.Fatal(err)
	}
	live := f.write("out/.tbcompose-hello.iso-live", []byte("a build in progress"))
	lf, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}

	code, stderr := f.build(nil, f.spec(), "-o", f.out)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	got := dirNames(t, f.path("out"))
	if want := []string{".tbcompose-hello.iso-live", "hello.iso"}; !slices.Equal(got, want) {
		t.Errorf("output directory holds %v, want %v", got, want)
	}
}

// TestBuildKilled SIGKILLs a real build while it writes the image and
// checks that the previous image survives byte for byte and that the next
// build removes the killed one's leftovers.
func TestBuildKilled(t *testing.T) {
	if _, err := os.Stat("/usr/lib/systemd/boot/efi/linuxx64.efi.stub"); err != nil {
		t.Skip("systemd-boot-efi is not installed")
	}
	f := newFixture(t, buildTool(t))
	// A large payload keeps the iso stage busy long enough to be killed
	// in it; sparse, so making it costs nothing.
	big, err := os.Create(f.path("big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(256 << 20); err != nil {
		t.Fatal(err)
	}
	big.Close()
	specPath := f.spec("{src: ./www, dst: /www}", "{src: ./www, dst: /www}\n  - {src: ./big.bin, dst: /big.bin}")
	prev := bytes.Repeat([]byte("previous image "), 1000)
	f.write("out/hello.iso", prev)

	cmd := f.command(nil, specPath, "-o", f.out)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen []string
	sc := bufio.NewScanner(stderr)
	killed := false
	for sc.Scan() {
		seen = append(seen, sc.Text())
		// The esp line is printed when the esp stage ends, so the iso
		// stage, which writes beside the output, has just begun.
		if strings.HasPrefix(strings.TrimSpace(sc.Text()), "esp") {
			time.Sleep(50 * time.Millisecond)
			cmd.Process.Kill()
			killed = true
			break
		}
	}
	go io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	if !killed {
		t.Fatalf("build ended before the iso stage (%v):\n%s", err, strings.Join(seen, "\n"))
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("build was not killed: %v", err)
	}
	if b, err := os.ReadFile(f.out); err != nil || !bytes.Equal(b, prev) {
		t.Fatalf("previous image changed by a killed build (err %v)", err)
	}
	leftovers := slices.DeleteFunc(dirNames(t, f.path("out")), func(n string) bool { return n == "hello.iso" })
	if len(leftovers) == 0 {
		t.Fatal("a build killed in the iso stage left nothing behind; the test did not kill it mid-write")
	}
	t.Logf("killed build left %v", leftovers)

	// The next build, of the small spec, cleans up: the killed build's
	// locks died with it.
	code, out := f.build(nil, f.spec(), "-o", f.out)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if got := dirNames(t, f.path("out")); !slices.Equal(got, []string{"hello.iso"}) {
		t.Errorf("after the next build the output directory holds %v, want only hello.iso", got)
	}
	if b, _ := os.ReadFile(f.out); bytes.Equal(b, prev) {
		t.Error("next build did not replace the image")
	}
}
