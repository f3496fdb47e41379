package spec

import (
	"debug/elf"
	"fmt"
	"github.com/tinyboot/tinyboot/internal/elftest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixture makes a spec directory holding every file the test specs refer
// to, and returns its path.
func fixture(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"hello", "www", "modules"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{
		"linux.deb":  []byte("!<arch>\n"),
		"vmlinuz":    []byte("MZ"),
		"stub.efi":   []byte("MZ"),
		"certs.pem":  []byte("-----BEGIN CERTIFICATE-----\n"),
		"app":        synthELF(elf.EM_X86_64, false),
		"app-dyn":    synthELF(elf.EM_X86_64, true),
		"app-arm64":  synthELF(elf.EM_AARCH64, false),
		"app-script": []byte("#!/bin/sh\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// synthELF is the smallest ELF executable debug/elf accepts, dynamically
// linked (with a PT_INTERP) when dynamic is set.
func synthELF(machine elf.Machine, dynamic bool) []byte {
	interp := ""
	if dynamic {
		interp = "/lib64/ld-linux-x86-64.so.2"
	}
	return elftest.Exec(machine, interp)
}

// brief formats ds as "LINE:COL: [warning: ]PATH: message" lines, the part
// of a diagnostic the tests pin down.
func brief(ds Diagnostics) []string {
	var out []string
	for _, d := range ds {
		s := fmt.Sprintf("%d:%d: ", d.Line, d.Column)
		if d.Severity == SeverityWarning {
			s += "warning: "
		}
		if d.Path != "" {
			s += d.Path + ": "
		}
		out = append(out, s+d.Message)
	}
	return out
}

const head = "name: hello\nkernel: {package: linux-image-amd64}\n"

func TestParseDiagnostics(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"valid minimal", head + "app: {go: ./hello}\n", nil},
		{"valid full", `name: hello
kernel:
  deb: [./linux.deb, {url: "https://deb.example.org/k.deb", sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF}]
  cmdline: [console=ttyS0, quiet]
  stub: ./stub.efi
modules: [e1000e, nvme, fs-btrfs]
app:
  binary: ./app
  args: [-addr, ":8080"]
  env: {GREETING: hi, _X1: "2"}
  stop_timeout: 1m30s
  restart: on-failure
  on_exit: poweroff
files:
  - {src: ./www, dst: /www}
  - {src: ./certs.pem, dst: /etc/certs.pem}
persistent: {label: data, fs: ext4, required: true, wait: 500ms}
network: {dhcp: false, wait: 1s}
time: {ntp: [], wait: 2s}
hostname: hello.example.org
ca_certs: ./certs.pem
output: out/hello.iso
`, nil},
		{"vmlinuz form", "name: a\nkernel: {vmlinuz: ./vmlinuz, modules_dir: ./modules}\napp: {go: example.org/x/cmd/y}\n", nil},

		// YAML structure.
		{"empty", "", []string{"1:1: spec is empty"}},
		{"comments only", "# nothing\n\n", []string{"1:1: spec is empty"}},
		{"null document", "~\n", []string{"1:1: expected a mapping, got nothing (null)"}},
		{"list document", "- a\n- b\n", []string{"1:1: expected a mapping, got a list"}},
		{"syntax error", "name: a\nkernel: {package: x\n", []string{"2:0: YAML syntax error: did not find expected ',' or '}'"}},
		{"syntax error tab", "name: a\n\tkernel: x\n", []string{"2:0: YAML syntax error: found a tab character that violates indentation"}},
		{"unknown anchor", head + "app: {go: *nope}\n", []string{"3:11: YAML syntax error: unknown anchor 'nope' referenced"}},
		{"multiple documents", head + "app: {go: ./hello}\n---\nname: b\n", []string{"4:1: more than one YAML document; a spec is a single document"}},
		{"duplicate key", head + "app: {go: ./hello}\nname: again\n", []string{`4:1: name: duplicate key "name"`}},
		{"duplicate nested key", head + "app:\n  go: ./hello\n  go: ./other\n", []string{`5:3: app.go: duplicate key "go"`}},
		{"custom tag", head + "app: {go: !path ./hello}\n", []string{"3:11: app.go: YAML tag !path is not supported"}},
		{"merge key", head + "base: &b {go: ./hello}\napp:\n  <<: *b\n", []string{
			`3:1: base: unknown key "base"`,
			"4:1: app: set exactly one of go, binary",
			"5:3: app: merge keys (<<) are not supported",
		}},
		{"self alias", head + "app: {go: ./hello}\nmodules: &m [a, *m]\n", []string{
			"4:17: modules[1]: expected a string, got a list",
			"4:17: modules[1][1]: alias *m refers to itself",
		}},
		{"non-string key", head + "app: {go: ./hello}\n? [a]\n: b\n", []string{"4:3: mapping keys must be plain strings"}},

		// Keys and types.
		{"missing required", "name: a\n", []string{
			`1:1: app: required key "app" is missing`,
			`1:1: kernel: required key "kernel" is missing`,
		}},
		{"unknown key", head + "app: {go: ./hello}\nnmae: x\n", []string{`4:1: nmae: unknown key "nmae"; did you mean "name"?`}},
		{"unknown nested key", head + "app:\n  go: ./hello\n  comand: x\n", []string{`5:3: app.comand: unknown key "comand"`}},
		{"unknown key no suggestion", head + "app: {go: ./hello}\nzzz: 1\n", []string{`4:1: zzz: unknown key "zzz"`}},
		{"wrong type string", "name: 5\nkernel: {package: linux-image-amd64}\napp: {go: ./hello}\n", []string{"1:7: name: expected a string, got a number"}},
		{"wrong type list", head + "app: {go: ./hello}\nmodules: e1000e\n", []string{"4:10: modules: expected a list, got a string"}},
		{"wrong type mapping", head + "app: ./hello\n", []string{"3:6: app: expected a mapping, got a string"}},
		{"wrong type bool", head + "app: {go: ./hello}\nnetwork: {dhcp: yes}\n", []string{"4:17: network.dhcp: expected a boolean, got a string"}},
		{"number in args and env", head + "app: {go: ./hello, args: [-p, 8080], env: {PORT: 80}}\n", []string{
			"3:31: app.args[1]: expected a string, got a number",
			"3:50: app.env.PORT: expected a string, got a number",
		}},
		{"null value", head + "app: {go: ./hello}\ntime:\n  ntp:\n", []string{"5:7: time.ntp: expected a list, got nothing (null)"}},
		{"empty string", head + "app: {go: ./hello}\nhostname: \"\"\n", []string{"4:11: hostname: must not be empty"}},

		// Enums and durations.
		{"bad enum", head + "app: {go: ./hello, on_exit: rebot}\n", []string{`3:29: app.on_exit: invalid value "rebot"; did you mean "reboot"?`}},
		{"bad enum no suggestion", head + "app: {go: ./hello, restart: sometimes}\n", []string{`3:29: app.restart: invalid value "sometimes"`}},
		{"bad fs", head + "app: {go: ./hello}\npersistent: {fs: xfs}\n", []string{`4:18: persistent.fs: invalid value "xfs"`}},
		{"duration without unit", head + "app: {go: ./hello, stop_timeout: 10}\n", []string{"3:34: app.stop_timeout: expected a string, got a number"}},
		{"duration bad unit", head + "app: {go: ./hello}\nnetwork: {wait: 10 sec}\n", []string{`4:17: network.wait: invalid duration "10 sec"`}},
		{"negative duration", head + "app: {go: ./hello}\ntime: {wait: -1s}\n", []string{`4:14: time.wait: invalid duration "-1s"`}},
		{"duration overflow", head + "app: {go: ./hello}\npersistent: {wait: 9999999999h}\n", []string{`4:20: persistent.wait: invalid duration "9999999999h": out of range`}},

		// Kernel and app forms.
		{"kernel none", "name: a\nkernel: {cmdline: [quiet]}\napp: {go: ./hello}\n", []string{"2:1: kernel: set exactly one of package, deb, vmlinuz"}},
		{"kernel two", "name: a\nkernel: {package: linux-image-amd64, vmlinuz: ./vmlinuz, modules_dir: ./modules}\napp: {go: ./hello}\n", []string{"2:1: kernel: set exactly one of package, deb, vmlinuz"}},
		{"vmlinuz without modules_dir", "name: a\nkernel: {vmlinuz: ./vmlinuz}\napp: {go: ./hello}\n", []string{"2:10: kernel.vmlinuz: vmlinuz requires modules_dir"}},
		{"modules_dir without vmlinuz", "name: a\nkernel: {package: linux-image-amd64, modules_dir: ./modules}\napp: {go: ./hello}\n", []string{"2:38: kernel.modules_dir: modules_dir is only used with vmlinuz"}},
		{"empty deb list", "name: a\nkernel: {deb: []}\napp: {go: ./hello}\n", []string{"2:15: kernel.deb: must not be empty"}},
		{"app none", head + "app: {args: [x]}\n", []string{"3:1: app: set exactly one of go, binary"}},
		{"app both", head + "app: {go: ./hello, binary: ./app}\n", []string{"3:1: app: set exactly one of go, binary"}},
		{"deb url entries", "name: a\nkernel:\n  deb:\n    - {url: ftp://x/k.deb, sha256: abc}\n    - {url: https://x/k.deb}\n    - {url: https://x/k.deb, sha265: x}\n    - 5\napp: {go: ./hello}\n", []string{
			`4:13: kernel.deb[0].url: invalid URL "ftp://x/k.deb"`,
			`4:36: kernel.deb[0].sha256: invalid sha256 "abc"`,
			`5:7: kernel.deb[1].sha256: required key "sha256" is missing`,
			`6:7: kernel.deb[2].sha256: required key "sha256" is missing`,
			`6:30: kernel.deb[2].sha265: unknown key "sha265"; did you mean "sha256"?`,
			"7:7: kernel.deb[3]: must be a path or a {url, sha256} mapping",
		}},
		{"module names", head + "app: {go: ./hello}\nmodules: [e1000e, \"bad mod\", a/b, -x]\n", []string{
			`4:19: modules[1]: invalid module name "bad mod"`,
			`4:30: modules[2]: invalid module name "a/b"`,
			`4:35: modules[3]: invalid module name "-x"`,
		}},
		{"cmdline word with space", "name: a\nkernel: {package: linux-image-amd64, cmdline: [\"a b\"]}\napp: {go: ./hello}\n", []string{
			`2:48: kernel.cmdline[0]: kernel command-line word "a b" contains white space`,
		}},
		{"env name", head + "app: {go: ./hello, env: {1X: a, OK: b}}\n", []string{`3:26: app.env.1X: invalid environment variable name "1X"`}},

		// Names.
		{"bad name", "name: Hello_\nkernel: {package: linux-image-amd64}\napp: {go: ./hello}\n", []string{`1:7: name: invalid name "Hello_"`}},
		{"name too long", "name: " + strings.Repeat("a", 64) + "\nkernel: {package: linux-image-amd64}\napp: {go: ./hello}\n", []string{"1:7: name: too long: 64 characters, at most 63"}},
		{"bad hostname", head + "app: {go: ./hello}\nhostname: -bad.example\n", []string{`4:11: hostname: invalid hostname "-bad.example"`}},

		// Files on the build host.
		{"missing files", `name: a
kernel: {deb: [./nope.deb], stub: ./nope.efi}
app: {go: ./nope}
files: [{src: ./nope, dst: /x}]
ca_certs: ./nope.pem
`, []string{
			"2:16: kernel.deb[0]: ./nope.deb does not exist",
			"2:35: kernel.stub: ./nope.efi does not exist",
			"3:11: app.go: ./nope does not exist",
			"4:15: files[0].src: ./nope does not exist",
			"5:11: ca_certs: ./nope.pem does not exist",
		}},
		{"isolinux directory lacks files", "name: a\nkernel: {package: linux-image-amd64, isolinux: ./www}\napp: {go: ./hello}\n", []string{
			"2:48: kernel.isolinux: ./www has no isohdpfx.bin",
			"2:48: kernel.isolinux: ./www has no isolinux.bin",
			"2:48: kernel.isolinux: ./www has no ldlinux.c32",
		}},
		{"isolinux missing", "name: a\nkernel: {package: linux-image-amd64, isolinux: ./nope}\napp: {go: ./hello}\n", []string{
			"2:48: kernel.isolinux: ./nope does not exist",
		}},
		{"files on the BIOS loader's directory", "name: a\nkernel: {package: linux-image-amd64}\napp: {go: ./hello}\nfiles: [{src: ./www, dst: /isolinux/x}]\n", []string{
			`4:27: files[0].dst: dst "/isolinux/x": /isolinux on the ISO is the BIOS loader's`,
		}},
		{"app run from the ISO with formats that have none", head + "app: {go: ./hello, run_from: iso}\nformats: [iso, uki, kernel]\nfiles: [{src: ./www, dst: /tinyboot/www}]\n", []string{
			`4:16: formats[1]: the uki format has no ISO to run the app from (app.run_from: iso)`,
			`4:21: formats[2]: the kernel format has no ISO to run the app from (app.run_from: iso)`,
			`5:27: files[0].dst: dst "/tinyboot/www": /tinyboot on the ISO holds the app (app.run_from: iso)`,
		}},
		{"app run from the ISO in a signed image", head + "app: {go: ./hello, run_from: iso}\nsecure_boot: {key: ./nope.key, cert: ./nope.crt}\n", []string{
			`3:30: app.run_from: iso puts the app outside the signed UKI, where Secure Boot does not verify it`,
			`4:20: secure_boot.key: ./nope.key does not exist`,
			`4:38: secure_boot.cert: ./nope.crt does not exist`,
		}},
		{"app run_from unknown", head + "app: {go: ./hello, run_from: disk}\n", []string{
			`3:30: app.run_from: invalid value "disk"`,
		}},
		{"unknown format", head + "app: {go: ./hello}\nformats: [iso, vhd]\n", []string{
			`4:16: formats[1]: invalid value "vhd"`,
		}},
		{"vmlinuz and modules_dir kinds", "name: a\nkernel: {vmlinuz: ./modules, modules_dir: ./vmlinuz}\napp: {go: ./hello}\n", []string{
			"2:19: kernel.vmlinuz: ./modules is a directory, want a file",
			"2:43: kernel.modules_dir: ./vmlinuz is not a directory",
		}},
		{"binary dynamic", head + "app: {binary: ./app-dyn}\n", []string{"3:15: app.binary: ./app-dyn is dynamically linked; the image has no dynamic loader"}},
		{"binary arm64", head + "app: {binary: ./app-arm64}\n", []string{"3:15: app.binary: ./app-arm64 is built for aarch64 (arm64), but the image is amd64 (x86-64)"}},
		{"binary amd64 in an arm64 image", "arch: arm64\n" + head + "app: {binary: ./app}\n", []string{"4:15: app.binary: ./app is built for x86-64 (amd64), but the image is arm64 (aarch64)"}},
		{"binary arm64 in an arm64 image", "arch: arm64\n" + head + "app: {binary: ./app-arm64}\n", nil},
		{"binary with two arches", "arch: [amd64, arm64]\n" + head + "app: {binary: ./app}\n", []string{"4:15: app.binary: ./app is one executable for one architecture, but arch lists 2"}},
		{"arch unknown", "arch: riscv64\n" + head + "app: {go: ./hello}\n", []string{`1:7: arch: invalid value "riscv64"`}},
		{"binary script", head + "app: {binary: ./app-script}\n", []string{"3:15: app.binary: ./app-script is not an ELF executable"}},
		{"deb without .deb suffix", "name: a\nkernel: {deb: [./vmlinuz]}\napp: {go: ./hello}\n", []string{"2:16: warning: kernel.deb[0]: ./vmlinuz does not end in .deb"}},

		// Package archives.
		{"archive entries", head + "app: {go: ./hello}\narchive:\n  - {url: mirror/debian, suites: [stable]}\n  - {url: http://mirror.example/debian, suites: []}\n  - {url: http://mirror.example/debian, suites: [stable], keyring: ./vmlinuz}\n", []string{
			`5:11: archive[0].url: invalid value "mirror/debian"`,
			"6:49: archive[1].suites: must not be empty",
			"7:68: archive[2].keyring: ./vmlinuz is not an OpenPGP keyring",
		}},

		// ISO destinations.
		{"dst problems", head + `app: {go: ./hello}
files:
  - {src: ./www, dst: /www}
  - {src: ./www, dst: www}
  - {src: ./www, dst: /a/../b}
  - {src: ./www, dst: /www/}
  - {src: ./www, dst: /www}
  - {src: ./www, dst: /www/img}
  - {src: ./www, dst: /}
`, []string{
			`6:23: files[1].dst: dst "www" is not absolute`,
			`7:23: files[2].dst: dst "/a/../b" is not a clean absolute path`,
			`8:23: files[3].dst: dst "/www/" is not a clean absolute path`,
			`9:23: files[4].dst: dst "/www" is already used by files[0].dst`,
			`10:23: files[5].dst: dst "/www/img" is inside "/www" (files[0].dst)`,
			`11:23: files[6].dst: dst "/" contains "/www" (files[0].dst)`,
		}},
		{"file entry missing keys", head + "app: {go: ./hello}\nfiles: [{src: ./www}, {dst: /x, mode: 1}]\n", []string{
			`4:9: files[0].dst: required key "dst" is missing`,
			`4:23: files[1].src: required key "src" is missing`,
			`4:33: files[1].mode: unknown key "mode"`,
		}},

		// Persistent volume labels.
		{"ext4 label too long", head + "app: {go: ./hello}\npersistent: {fs: ext4, label: " + strings.Repeat("x", 17) + "}\n", []string{
			"4:31: persistent.label: label is 17 bytes; ext4 labels hold at most 16",
		}},
		{"ext4 label fits", head + "app: {go: ./hello}\npersistent: {fs: ext4, label: " + strings.Repeat("x", 16) + "}\n", nil},
		{"btrfs label too long", head + "app: {go: ./hello}\npersistent: {label: " + strings.Repeat("x", 256) + "}\n", []string{
			"4:21: persistent.label: label is 256 bytes; btrfs labels hold at most 255",
		}},
		{"label with slash", head + "app: {go: ./hello}\npersistent: {label: a/b}\n", []string{
			`4:21: persistent.label: label "a/b" contains '/' or NUL`,
		}},

		// Warnings.
		{"required without label", head + "app: {go: ./hello}\npersistent: {required: true}\n", []string{
			`4:24: warning: persistent.required: required volume is found by the default label "tinyboot", which any tinyboot disk may carry`,
		}},
		{"restart always with on_exit", head + "app: {go: ./hello, restart: always, on_exit: halt}\n", []string{
			"3:46: warning: app.on_exit: on_exit has no effect with restart: always (the app never ends for good)",
		}},
		{"zero durations", head + "app: {go: ./hello, stop_timeout: 0s}\nnetwork: {wait: \"0\"}\n", []string{
			"3:34: warning: app.stop_timeout: 0 means the default, 10s",
			"4:17: warning: network.wait: 0 means the default",
		}},
		{"ntp without network", head + "app: {go: ./hello}\nnetwork: {dhcp: false}\ntime: {ntp: [ntp.example.org]}\n", []string{
			"5:13: warning: time.ntp: NTP servers are set but network.dhcp is false, so the machine has no network to reach them",
		}},

		// Several problems in one run, sorted by position.
		{"all at once", "name: A\nkernel: {}\napp: {go: ./hello, restart: nope}\nextra: 1\n", []string{
			`1:7: name: invalid name "A"`,
			"2:1: kernel: set exactly one of package, deb, vmlinuz",
			`3:29: app.restart: invalid value "nope"`,
			`4:1: extra: unknown key "extra"`,
		}},
	}
	dir := fixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, "tinyboot.yaml")
			_, diags := Parse(file, []byte(tc.yaml))
			got := brief(diags)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("diagnostics:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			for _, d := range diags {
				if d.File != file {
					t.Errorf("diagnostic %q has file %q", d.Message, d.File)
				}
			}
		})
	}
}

func TestParseHints(t *testing.T) {
	dir := fixture(t)
	tests := []struct {
		yaml, hint string
	}{
		{head + "app: {go: ./hello, on_exit: rebot}\n", "one of: reboot, poweroff, halt"},
		{head + "app: {go: ./hello, stop_timeout: 10}\n", `durations need a unit: "10s"`},
		{head + "app: {go: ./hello}\nnetwork: {wait: \"30\"}\n", `durations need a unit: "30s"`},
		{head + "app: {go: ./hello, args: [8080]}\n", `quote it to make it a string: "8080"`},
		{head + "app: {go: ./hello}\nnetwork: {dhcp: yes}\n", "use true or false"},
		{head + "app: {go: ./hello}\nname: b\n", `the first "name" is at line 1`},
		{head + "app: {go: ./hello}\nfiles: [{src: ./www, dst: /a/../b}]\n", `write it as "/b"`},
		{head + "app:\n  go: ./hello\n  argz: []\n", "known keys: args, binary, build, capabilities, env, go, limits, on_exit, restart, run_from, stop_timeout, user"},
	}
	for _, tc := range tests {
		_, diags := Parse(filepath.Join(dir, "tinyboot.yaml"), []byte(tc.yaml))
		if len(diags) != 1 || diags[0].Hint != tc.hint {
			t.Errorf("%q: diagnostics %+v, want one with hint %q", tc.yaml, diags, tc.hint)
		}
	}
}

func TestParseDecodes(t *testing.T) {
	dir := fixture(t)
	s, diags := Parse(filepath.Join(dir, "tinyboot.yaml"), []byte(`name: hello
kernel: {deb: [./linux.deb, {url: "https://x.example/k.deb", sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}]}
app: {go: ./hello, stop_timeout: 1m30s, env: {A: b}}
persistent: {label: data}
time: {ntp: []}
`))
	if len(diags) != 0 {
		t.Fatalf("diagnostics: %v", brief(diags))
	}
	if s.Dir != dir || s.Path != filepath.Join(dir, "tinyboot.yaml") {
		t.Errorf("Dir %q Path %q", s.Dir, s.Path)
	}
	wantDeb := []DebSource{{Path: "./linux.deb"}, {URL: "https://x.example/k.deb", SHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}
	if fmt.Sprint(s.Kernel.Deb) != fmt.Sprint(wantDeb) {
		t.Errorf("deb = %+v", s.Kernel.Deb)
	}
	if s.App.StopTimeout.String() != "1m30s" || s.App.Env["A"] != "b" || s.Persistent == nil || s.Persistent.Label != "data" {
		t.Errorf("app %+v persistent %+v", s.App, s.Persistent)
	}
	if s.Time.NTP == nil || len(s.Time.NTP) != 0 {
		t.Errorf("ntp: [] decoded as %#v, want empty non-nil", s.Time.NTP)
	}

	s.ApplyDefaults()
	if s.App.Restart != RestartNever || s.App.OnExit != OnExitReboot || s.Persistent.FS != FSBtrfs ||
		s.Persistent.Wait != DefaultPersistentWait || s.Network.DHCP == nil || !*s.Network.DHCP ||
		s.Network.Wait != DefaultNetworkWait || s.Time.Wait != DefaultTimeWait || len(s.Time.NTP) != 0 ||
		s.Hostname != "hello" || s.CACerts != "system" || s.Output != "" ||
		s.App.StopTimeout.String() != "1m30s" || s.Persistent.Label != "data" {
		t.Errorf("after ApplyDefaults: %+v %+v", s, s.Persistent)
	}
}

func TestApplyDefaults(t *testing.T) {
	s := &Spec{Name: "box", Dir: "/specs", Persistent: &Persistent{}}
	s.ApplyDefaults()
	if s.App.StopTimeout != DefaultStopTimeout || s.Persistent.Label != DefaultLabel ||
		s.Time.NTP[0] != DefaultNTP[0] || s.Output != "" || s.Hostname != "box" {
		t.Errorf("%+v", s)
	}
	// The default list must not alias DefaultNTP.
	s.Time.NTP[0] = "changed"
	if DefaultNTP[0] != "pool.ntp.org" {
		t.Fatal("ApplyDefaults aliased DefaultNTP")
	}
	none := &Spec{Name: "box", Dir: "/specs"}
	none.ApplyDefaults()
	if none.Persistent != nil {
		t.Error("ApplyDefaults invented a persistent volume")
	}
}

func TestResolve(t *testing.T) {
	s := &Spec{Dir: "/specs"}
	for in, want := range map[string]string{"": "", "./www": "/specs/www", "../x": "/x", "/abs": "/abs", "a/b": "/specs/a/b"} {
		if got := s.Resolve(in); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := fixture(t)
	path := filepath.Join(dir, "tinyboot.yaml")
	if err := os.WriteFile(path, []byte(head+"app: {go: ./hello, on_exit: rebot}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, diags, err := Load(path)
	if err != nil || s == nil || len(diags) != 1 || !diags.HasErrors() || diags[0].File != path {
		t.Fatalf("Load = %v, %v, %v", s, diags, err)
	}
	if _, _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("Load of a missing file: no error")
	}
}

func TestExamplesValidate(t *testing.T) {
	paths, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, p := range paths {
		_, diags, err := Load(p)
		if err != nil || len(diags) != 0 {
			t.Errorf("%s: %v %v", p, err, brief(diags))
		}
	}
}

// TestAliasBomb checks that a "billion laughs" document is refused
// quickly instead of being expanded.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	start := time.Now()
	_, diags := Parse("t.yaml", []byte(b.String()))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Parse took %v", took)
	}
	want := "1:10: a3[7][0][7][0]: document too large (more than 10000 values after alias expansion)"
	if got := brief(diags); len(got) != 1 || got[0] != want {
		t.Errorf("diagnostics %v, want [%s]", got, want)
	}
}
