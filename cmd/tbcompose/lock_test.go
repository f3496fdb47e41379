package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/internal/testcache"
)

// TestLockFlow drives tinyboot.lock through the CLI with Debian's real
// kernel package: the first build writes the lock, --locked builds from it,
// a lock for another package or a missing lock fails --locked, and
// --update rewrites it.
func TestLockFlow(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tbcompose")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	hello, err := filepath.Abs("../../examples/hello")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	specPath := filepath.Join(dir, "tinyboot.yaml")
	kernelPkg := testcache.Kernel()
	spec := "name: locky\nkernel:\n  package: " + kernelPkg + "\napp:\n  go: " + hello + "\nnetwork:\n  dhcp: false\n"
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(dir, compose.LockName)
	tbcIn := func(cwd string, args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = cwd
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String()
	}
	tbc := func(args ...string) (int, string) { return tbcIn("", args...) }

	if code, out := tbc("build", "--locked", specPath); code != 1 || !strings.Contains(out, "tinyboot.lock is missing") {
		t.Fatalf("--locked without a lock: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "locky.iso")); err == nil {
		t.Fatal("--locked without a lock still built an image")
	}
	if code, out := tbc("build", specPath); code != 0 || !strings.Contains(out, "wrote "+lockPath) {
		t.Fatalf("first build: exit %d\n%s", code, out)
	}
	lock, err := compose.ReadLock(lockPath)
	if err != nil || lock == nil {
		t.Fatalf("lock: %v %v", lock, err)
	}
	if lock.Kernel != kernelPkg || len(lock.Packages) < 1 || (kernelPkg == testcache.DefaultKernel && len(lock.Packages) < 2) {
		t.Fatalf("lock pins %+v; want %s (for a meta package, with the image it depends on)", lock, kernelPkg)
	}
	before, _ := os.ReadFile(lockPath)
	code, out := tbc("build", "--locked", "--json", specPath)
	if code != 0 {
		t.Fatalf("--locked with its lock: exit %d\n%s", code, out)
	}
	var res compose.Result
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if len(res.Packages) != len(lock.Packages) || res.Packages[0] != lock.Packages[0] {
		t.Errorf("locked build used %+v, lock says %+v", res.Packages, lock.Packages)
	}
	if after, _ := os.ReadFile(lockPath); !bytes.Equal(before, after) {
		t.Error("--locked rewrote the lock")
	}

	// A lock for another package fails --locked and is replaced otherwise.
	other := strings.Replace(string(before), `"kernel": "`+kernelPkg+`"`, `"kernel": "linux-image-cloud-amd64"`, 1)
	if other == string(before) {
		t.Fatalf("lock does not name the kernel %s as expected:\n%s", kernelPkg, before)
	}
	if err := os.WriteFile(lockPath, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := tbc("build", "--locked", specPath); code != 1 || !strings.Contains(out, "--update") {
		t.Fatalf("--locked with a stale lock: exit %d\n%s", code, out)
	}
	if code, out := tbc("build", "--update", specPath); code != 0 || !strings.Contains(out, "wrote") {
		t.Fatalf("--update: exit %d\n%s", code, out)
	}
	if after, _ := os.ReadFile(lockPath); !bytes.Equal(before, after) {
		t.Errorf("--update wrote\n%s\nwant\n%s", after, before)
	}
	if code, out := tbc("build", "--update", "--locked", specPath); code != 2 {
		t.Fatalf("--update --locked: exit %d, want 2\n%s", code, out)
	}

	// A relative -o names a file in the current directory, and the build
	// leaves nothing behind in the app's directory (go build runs there).
	cwd := t.TempDir()
	if code, out := tbcIn(cwd, "build", "--locked", "-o", "rel.iso", specPath); code != 0 {
		t.Fatalf("build -o rel.iso: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(cwd, "rel.iso")); err != nil {
		t.Errorf("build -o rel.iso from %s: %v", cwd, err)
	}
	for _, d := range []string{cwd, hello, dir} {
		left, _ := filepath.Glob(filepath.Join(d, ".tbcompose-*"))
		if len(left) > 0 {
			t.Errorf("build left %v behind", left)
		}
	}
}
