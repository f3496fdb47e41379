package compose

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/compose/initramfs"
	"github.com/tinyboot/tinyboot/compose/iso"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/compose/uki"
	"github.com/tinyboot/tinyboot/internal/arch"
	"github.com/tinyboot/tinyboot/internal/debtest"
	"github.com/tinyboot/tinyboot/internal/elftest"
	"github.com/tinyboot/tinyboot/spec"
)

func TestArchOutput(t *testing.T) {
	tests := []struct {
		out, arch string
		multi     bool
		want      string
	}{
		{"/o/hello.iso", "arm64", false, "/o/hello.iso"},
		{"/o/hello.iso", "amd64", true, "/o/hello-amd64.iso"},
		{"/o/hello.iso", "arm64", true, "/o/hello-arm64.iso"},
		{"/o/hello", "arm64", true, "/o/hello-arm64"},
		{"/o.d/hello.raw.img", "arm64", true, "/o.d/hello.raw-arm64.img"},
	}
	for _, tt := range tests {
		if got := ArchOutput(tt.out, tt.arch, tt.multi); got != tt.want {
			t.Errorf("ArchOutput(%q, %q, %v) = %q, want %q", tt.out, tt.arch, tt.multi, got, tt.want)
		}
	}
}

func TestCmdlineArch(t *testing.T) {
	tests := []struct {
		arch  string
		extra []string
		want  string
	}{
		{"amd64", nil, "console=tty0 console=ttyS0,115200 quiet panic=10"},
		{"arm64", nil, "console=tty0 console=ttyAMA0,115200 quiet panic=10"},
		{"arm64", []string{"console=ttyS0"}, "quiet panic=10 console=ttyAMA0"},
		{"arm64", []string{"console=ttyS1"}, "quiet panic=10 console=ttyS1"},
		{"amd64", []string{"console=ttyAMA0,9600"}, "quiet panic=10 console=ttyS0,9600"},
		{"arm64", []string{"console=hvc0", "foo=ttyS0"}, "quiet panic=10 console=hvc0 foo=ttyS0"},
	}
	for _, tt := range tests {
		if got := CmdlineArch(arch.MustLookup(tt.arch), tt.extra); got != tt.want {
			t.Errorf("CmdlineArch(%s, %q) = %q, want %q", tt.arch, tt.extra, got, tt.want)
		}
	}
}

// TestBaseModulesPerArch checks that each architecture gets its own
// machine's drivers and none of the other's.
func TestBaseModulesPerArch(t *testing.T) {
	on := true
	s := &spec.Spec{Name: "m", Persistent: &spec.Persistent{FS: spec.FSBtrfs}, Network: spec.Network{DHCP: &on}}
	r := s.WithDefaults()
	tests := []struct {
		arch      string
		want, not []string
	}{
		{"amd64", []string{"ahci", "ata_piix", "e1000", "i6300esb", "iTCO_wdt", "virtio_net", "btrfs", "sr_mod", "button"},
			[]string{"virtio_mmio", "rtc_pl031", "sbsa_gwdt", "gpio_keys"}},
		{"arm64", []string{"virtio_mmio", "rtc_pl031", "gpio_keys", "gpio_pl061", "sbsa_gwdt", "virtio_net", "btrfs", "sr_mod", "virtio_scsi", "button"},
			[]string{"ata_piix", "iTCO_wdt", "e1000"}},
	}
	for _, tt := range tests {
		got := BaseModulesArch(r, arch.MustLookup(tt.arch))
		for _, m := range tt.want {
			if !slices.Contains(got, m) {
				t.Errorf("%s base modules lack %s: %v", tt.arch, m, got)
			}
		}
		for _, m := range tt.not {
			if slices.Contains(got, m) {
				t.Errorf("%s base modules have the other architecture's %s: %v", tt.arch, m, got)
			}
		}
	}
	if got, want := BaseModules(s.WithDefaults()), BaseModulesArch(r, arch.MustLookup("amd64")); !slices.Equal(got, want) {
		t.Errorf("BaseModules of a spec without arch = %v, want amd64's %v", got, want)
	}
}

// TestLockTwoArchitectures reads each architecture's pins out of one
// lock, keeps the pins of an architecture a build did not make, and
// round-trips the file.
func TestLockTwoArchitectures(t *testing.T) {
	pkg := func(name, a, sum string) kernel.Package {
		return kernel.Package{Name: name, Version: "1", Architecture: a, SHA256: strings.Repeat(sum, 64)}
	}
	amdK, armK := pkg("linux-image-6.1.0-t-amd64", "amd64", "a"), pkg("linux-image-6.1.0-t-arm64", "arm64", "b")
	oldK := kernel.Package{Name: "linux-image-6.1.0-old-amd64", Version: "1", SHA256: strings.Repeat("c", 64)} // written before arm64
	amdS, armS := pkg("systemd-boot-efi", "amd64", "d"), pkg("systemd-boot-efi", "arm64", "e")
	lock := &Lock{Version: LockVersion, Kernel: "linux-image-amd64", Packages: []kernel.Package{amdK, armK}, Stubs: []kernel.Package{amdS, armS}}
	if got := pinsFor(lock.Packages, "arm64"); !slices.Equal(got, []kernel.Package{armK}) {
		t.Errorf("arm64 pins %v, want %v", got, armK)
	}
	if got := pinsFor([]kernel.Package{oldK}, "amd64"); len(got) != 1 {
		t.Errorf("an entry without architecture is not amd64's: %v", got)
	}
	if got := stubPin(lock, "arm64"); got == nil || *got != armS {
		t.Errorf("arm64 stub pin %v, want %v", got, armS)
	}
	if got := stubPin(&Lock{Stub: &amdS}, "arm64"); got != nil {
		t.Errorf("an amd64 stub pinned for arm64: %v", got)
	}

	// build --arch arm64 of this spec keeps the amd64 pins.
	res := &Result{Arch: "arm64", Packages: []kernel.Package{armK}, Stub: &armS}
	if got, want := lockedPackages(res, lock), []kernel.Package{armK, amdK}; !slices.Equal(got, want) {
		t.Errorf("locked packages %v, want %v", got, want)
	}
	if got, want := lockedStubs(res, lock), []kernel.Package{armS, amdS}; !slices.Equal(got, want) {
		t.Errorf("locked stubs %v, want %v", got, want)
	}

	path := filepath.Join(t.TempDir(), LockName)
	if err := WriteLock(path, lock); err != nil {
		t.Fatal(err)
	}
	back, err := ReadLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(lock) {
		t.Errorf("read back %+v, want %+v", back, lock)
	}
	other := *back
	other.Stubs = []kernel.Package{amdS}
	if other.Equal(lock) {
		t.Error("locks with different stubs compare equal")
	}
}

// TestStubOfOtherArch refuses an amd64 stub in an arm64 image, naming both.
func TestStubOfOtherArch(t *testing.T) {
	f := newErrFixture(t)
	f.write("agent", elftest.Exec(elf.EM_AARCH64, ""))
	f.write("app", elftest.Exec(elf.EM_AARCH64, ""))
	f.spec.Arch = spec.Arches{"arm64"}
	_, err := Build(context.Background(), f.spec.WithDefaults(), f.opts)
	if err == nil || !strings.Contains(err.Error(), "a UEFI stub for amd64, but the image is arm64") || !strings.Contains(err.Error(), "kernel.stub") {
		t.Fatalf("got %v, want the stub's architecture named", err)
	}
}

// TestAppOfOtherArch refuses an amd64 app.binary in an arm64 image,
// saying so.
func TestAppOfOtherArch(t *testing.T) {
	f := newErrFixture(t)
	f.write("agent", elftest.Exec(elf.EM_AARCH64, ""))
	f.spec.Arch = spec.Arches{"arm64"}
	_, err := Build(context.Background(), f.spec.WithDefaults(), f.opts)
	if err == nil || !strings.Contains(err.Error(), "app.binary") || !strings.Contains(err.Error(), "x86-64 (amd64)") || !strings.Contains(err.Error(), "GOARCH=arm64") {
		t.Fatalf("got %v, want an error naming the app's and the image's architectures", err)
	}
}

// armStub is the host's amd64 stub relabelled as an arm64 PE file: enough
// for the UKI builder and the architecture check, never booted.
func armStub(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(hostStub)
	if err != nil {
		t.Skipf("%s is missing (apt-get install systemd-boot-efi)", hostStub)
	}
	pe := binary.LittleEndian.Uint32(b[0x3c:])
	binary.LittleEndian.PutUint16(b[pe+4:], arch.MustLookup("arm64").PEMachine)
	return b
}

// multiArchArchive is a signed fake archive with a kernel and a stub
// package for each architecture; both kernels are version 6.1.0-test.
func multiArchArchive(t *testing.T) (*debtest.Archive, string) {
	hostBytes, err := os.ReadFile(hostStub)
	if err != nil {
		t.Skipf("%s is missing (apt-get install systemd-boot-efi)", hostStub)
	}
	stubs := map[string][]byte{"amd64": hostBytes, "arm64": armStub(t)}
	var pkgs []debtest.Pkg
	for _, a := range []string{"amd64", "arm64"} {
		img := "linux-image-6.1.0-test-" + a
		pkgs = append(pkgs,
			debtest.Pkg{Name: "linux-image-" + a, Version: "1", Arch: a, Depends: img + " (= 1)",
				Deb: debtest.PackageDeb(t, "linux-image-"+a, "1", a, map[string]string{"./usr/share/doc/": ""})},
			debtest.Pkg{Name: img, Version: "1", Arch: a,
				Deb: debtest.PackageDeb(t, img, "1", a, map[string]string{
					"./boot/vmlinuz-6.1.0-test":                "not really a " + a + " kernel",
					"./lib/modules/6.1.0-test/modules.builtin": "",
				})},
			debtest.Pkg{Name: kernel.StubPackage, Version: "1", Arch: a,
				Deb: debtest.PackageDeb(t, kernel.StubPackage, "1", a, map[string]string{"./" + arch.MustLookup(a).StubFile: string(stubs[a])})},
		)
	}
	ar := debtest.NewArchive(t, debtest.Suite{Name: "stable", Pkgs: pkgs})
	keyring := filepath.Join(t.TempDir(), "archive.gpg")
	kf, err := os.Create(keyring)
	if err != nil {
		t.Fatal(err)
	}
	if err := ar.Key.Serialize(kf); err != nil {
		t.Fatal(err)
	}
	if err := kf.Close(); err != nil {
		t.Fatal(err)
	}
	return ar, keyring
}

// TestBuildMultiArch builds one spec for amd64 and arm64: two images named
// by architecture, each with its own architecture's kernel, stub, app and
// agent, whose baked specs differ only in the architecture; the lock pins
// both, and a --locked rebuild uses it without the archive.
func TestBuildMultiArch(t *testing.T) {
	ar, keyring := multiArchArchive(t)
	f := newErrFixture(t)
	f.write("src/go.mod", []byte("module app\n\ngo 1.21\n"))
	f.write("src/main.go", []byte("package main\n\nfunc main() { println(\"hi\") }\n"))
	f.spec.App = spec.App{Go: "./src"}
	f.spec.Kernel = spec.Kernel{Package: "linux-image-amd64"}
	f.spec.Archive = []spec.ArchiveSource{{URL: ar.URL(), Suites: []string{"stable"}, Keyring: keyring}}
	f.spec.Arch = spec.Arches{"amd64", "arm64"}
	f.opts.AgentPath = "" // built from source for each architecture
	f.opts.Lock = LockOptions{Path: f.path(LockName)}
	res, err := Build(context.Background(), f.spec.WithDefaults(), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Images) != 2 {
		t.Fatalf("%d images, want 2", len(res.Images))
	}
	var baked [2][]byte
	for i, a := range []string{"amd64", "arm64"} {
		im := res.Images[i]
		want := f.path("out/hello-" + a + ".iso")
		if im.Arch != a || im.Output != want {
			t.Errorf("image %d: %s at %s, want %s at %s", i, im.Arch, im.Output, a, want)
		}
		in, err := Inspect(im.Output)
		if err != nil {
			t.Fatal(err)
		}
		if in.Arch != a || in.Spec == nil || in.Spec.Arch != a {
			t.Fatalf("%s: inspect says arch %q, baked spec %+v", im.Output, in.Arch, in.Spec)
		}
		for _, e := range in.Initramfs {
			if e.Path == "/init" || e.Path == "/bin/hello" {
				if got := machineOf(t, im.Output, e.Path); got != arch.MustLookup(a).ELFMachine {
					t.Errorf("%s %s is for %v, want %v", a, e.Path, got, arch.MustLookup(a).ELFMachine)
				}
			}
		}
		in.Spec.Arch = ""
		if baked[i], err = json.Marshal(in.Spec); err != nil {
			t.Fatal(err)
		}
		for _, p := range im.Packages {
			if p.Architecture != a {
				t.Errorf("%s image has kernel package %+v", a, p)
			}
		}
	}
	if string(baked[0]) != string(baked[1]) {
		t.Errorf("baked specs differ beyond arch:\n%s\n%s", baked[0], baked[1])
	}
	if _, err := os.Stat(f.path("out/hello.iso")); err != nil {
		t.Errorf("the fixture's previous single image is gone: %v", err)
	}

	lock, err := ReadLock(f.path(LockName))
	if err != nil || lock == nil {
		t.Fatalf("lock: %v, %v", lock, err)
	}
	for _, a := range []string{"amd64", "arm64"} {
		if len(pinsFor(lock.Packages, a)) != 2 || stubPin(lock, a) == nil {
			t.Errorf("lock lacks %s's kernel or stub: %+v", a, lock)
		}
	}

	// Offline: the lock and the cache are all a --locked rebuild needs.
	ar.Server.Close()
	f.opts.Lock.Mode = LockFrozen
	if _, err := Build(context.Background(), f.spec.WithDefaults(), f.opts); err != nil {
		t.Fatalf("locked rebuild without the archive: %v", err)
	}
}

// machineOf is the ELF machine of the initramfs file path in the image.
func machineOf(t *testing.T, image, path string) elf.Machine {
	t.Helper()
	im, err := iso.Open(image)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	boot, err := ReadBoot(im)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := initramfs.Read(boot.Sections[uki.SectionInitrd])
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Path == path {
			f, err := elf.NewFile(bytes.NewReader(e.Data))
			if err != nil {
				t.Fatalf("%s in %s: %v", path, image, err)
			}
			return f.Machine
		}
	}
	t.Fatalf("%s has no %s", image, path)
	return 0
}
