package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/compose/authenticode"
	"github.com/tinyboot/tinyboot/compose/esp"
	"github.com/tinyboot/tinyboot/compose/iso"
	"github.com/tinyboot/tinyboot/compose/ovmfvars"
	"github.com/tinyboot/tinyboot/compose/secureboot"
	"github.com/tinyboot/tinyboot/compose/uki"
	"github.com/tinyboot/tinyboot/internal/qemu"
	"github.com/tinyboot/tinyboot/spec"
)

// OVMF's own Secure Boot test setup, which tinyboot did not make: its
// firmware build, a variable store with its snakeoil key enrolled as PK,
// KEK and db, and that key (encrypted PEM, passphrase "snakeoil").
const (
	snakeoilCode = "/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd"
	snakeoilVars = "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd"
	snakeoilKey  = "/usr/share/ovmf/PkKek-1-snakeoil.key"
	snakeoilCert = "/usr/share/ovmf/PkKek-1-snakeoil.pem"
	plainCode    = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	plainVars    = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// refuseWait bounds how long a refused image may take to be refused: the
// firmware tries the CD first and says so at once.
const refuseWait = 120 * time.Second

// TestSecureBoot proves signing end to end under OVMF's Secure Boot
// firmware: keys tinyboot made, enrolled by tinyboot, boot only images
// signed by their db key, intact; OVMF's own snakeoil setup boots an image
// tinyboot signed with its key; the signed image still boots without
// Secure Boot; and signing keeps builds reproducible. Boots run one at a
// time.
func TestSecureBoot(t *testing.T) {
	RequireTools(t, qemu.DefaultBinary, "openssl", "sbverify")
	fw, err := qemu.FindSecureBootFirmware()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{snakeoilCode, snakeoilVars, snakeoilKey, snakeoilCert, plainCode, plainVars} {
		if !isFile(p) {
			t.Fatalf("%s is missing: install ovmf", p)
		}
	}
	dir := t.TempDir()
	keys, other := filepath.Join(dir, "keys"), filepath.Join(dir, "other")
	for _, d := range []string{keys, other} {
		if err := secureboot.Create(d, "e2e", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	vars := filepath.Join(dir, "enrolled.fd")
	enroll(t, keys, fw.Vars, vars)

	// The snakeoil key is encrypted; tinyboot signs unattended and takes
	// only plain keys, so the test decrypts it as a user would.
	snake := filepath.Join(dir, "snakeoil.key")
	if out, err := exec.Command("openssl", "pkey", "-in", snakeoilKey, "-passin", "pass:snakeoil", "-out", snake).CombinedOutput(); err != nil {
		t.Fatalf("decrypt the snakeoil key: %v\n%s", err, out)
	}
	if err := os.Chmod(snake, 0o600); err != nil {
		t.Fatal(err)
	}

	example, err := os.ReadFile(filepath.Join("..", "examples", "tinyboot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	exampleDir, err := filepath.Abs(filepath.Join("..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	signedText := func(key, cert string) string {
		return fmt.Sprintf("%s\nsecure_boot:\n  key: %s\n  cert: %s\n", example, key, cert)
	}
	dbKey, dbCert := filepath.Join(keys, "db.key"), filepath.Join(keys, "db.crt")
	signed := buildImage(t, signedText(dbKey, dbCert), exampleDir)
	checkSignedImage(t, signed, dbKey, dbCert)
	// Right after the first build: the app and agent embed the worktree's
	// VCS state, which must not change in between.
	t.Run("signed builds are reproducible", func(t *testing.T) {
		again := rebuildWithoutBootCache(t, signedText(dbKey, dbCert), exampleDir)
		a, b := sha256File(t, signed), sha256File(t, again)
		if a != b {
			t.Errorf("two signed builds differ: %s and %s", a, b)
		}
		t.Logf("signed image sha256 %s (both builds)", a)
	})

	t.Run("signed boots with Secure Boot", func(t *testing.T) {
		m, port := bootExample(t, fw.Code, vars, signed, true)
		ctx := context.Background()
		mods := m.Expect(ctx, `tinyboot: .*modules: loaded \d+ of \d+`, bootWait)
		m.Expect(ctx, `tinyboot: .*secure boot: enabled`, bootWait)
		m.Expect(ctx, `hello: listening on :8080`, bootWait)
		if page := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); !bytes.Contains(page, []byte("hello from tinyboot")) {
			t.Errorf("GET / lacks the greeting:\n%s", page)
		}
		allModulesLoaded(t, m, mods)
		powerOff(t, m)
	})
	t.Run("unsigned refused", func(t *testing.T) {
		unsigned := buildImage(t, string(example), exampleDir)
		expectRefused(t, fw.Code, vars, unsigned)
	})
	t.Run("other key refused", func(t *testing.T) {
		img := buildImage(t, signedText(filepath.Join(other, "db.key"), filepath.Join(other, "db.crt")), exampleDir)
		expectRefused(t, fw.Code, vars, img)
	})
	t.Run("changed initrd refused", func(t *testing.T) {
		expectRefused(t, fw.Code, vars, tamperInitrd(t, signed))
	})
	t.Run("snakeoil firmware boots an image signed with its key", func(t *testing.T) {
		img := buildImage(t, signedText(snake, snakeoilCert), exampleDir)
		m, _ := bootExample(t, snakeoilCode, snakeoilVars, img, true)
		ctx := context.Background()
		m.Expect(ctx, `tinyboot: .*secure boot: enabled`, bootWait)
		m.Expect(ctx, `hello: listening on :8080`, bootWait)
		powerOff(t, m)
	})
	t.Run("signed boots without Secure Boot", func(t *testing.T) {
		m, _ := bootExample(t, plainCode, plainVars, signed, false)
		ctx := context.Background()
		m.Expect(ctx, `tinyboot: .*secure boot: disabled`, bootWait)
		m.Expect(ctx, `hello: listening on :8080`, bootWait)
		powerOff(t, m)
	})
	t.Run("signed boots under BIOS", func(t *testing.T) {
		port := freePort(t)
		m := boot(t, qemu.Config{
			FirmwareKind: qemu.FirmwareBIOS,
			Image:        signed,
			Disks:        []string{newDisk(t, spec.FSBtrfs, spec.DefaultLabel)},
			Publish:      []qemu.PortForward{{Host: uint16(port), Guest: 8080}},
		})
		ctx := context.Background()
		m.Expect(ctx, `tinyboot: .*secure boot: not UEFI`, bootWait)
		m.Expect(ctx, `hello: listening on :8080`, bootWait)
		if page := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); !bytes.Contains(page, []byte("hello from tinyboot")) {
			t.Errorf("GET / lacks the greeting:\n%s", page)
		}
		powerOff(t, m)
	})
}

// enroll writes the key set in keys into a copy of template, as tbcompose
// keys enroll does.
func enroll(t *testing.T, keys, template, out string) {
	t.Helper()
	b, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ovmfvars.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Enroll(keys); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, s.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// bootExample boots the example image from a CD with a fresh btrfs volume
// on firmware code with a copy of vars; secure adds the SMM machine and
// secure pflash the Secure Boot build needs.
func bootExample(t *testing.T, code, vars, img string, secure bool) (*Machine, int) {
	t.Helper()
	port := freePort(t)
	cfg := qemu.Config{
		Firmware: qemu.Firmware{Code: code, Vars: vars},
		Image:    img,
		Disks:    []string{newDisk(t, spec.FSBtrfs, spec.DefaultLabel)},
		Publish:  []qemu.PortForward{{Host: uint16(port), Guest: 8080}},
	}
	if secure {
		cfg.ExtraArgs = qemu.SecureBootArgs
	}
	return boot(t, cfg), port
}

// expectRefused boots img under Secure Boot and checks the firmware
// refuses it: it reports Access Denied and the kernel never starts.
func expectRefused(t *testing.T, code, vars, img string) {
	t.Helper()
	port := freePort(t)
	m := boot(t, qemu.Config{
		Firmware:  qemu.Firmware{Code: code, Vars: vars},
		Image:     img,
		Publish:   []qemu.PortForward{{Host: uint16(port), Guest: 8080}},
		ExtraArgs: qemu.SecureBootArgs,
	})
	m.Expect(context.Background(), `BdsDxe: failed to load Boot\d+ .*Access Denied`, refuseWait)
	m.refuseLines(`tinyboot: `, `Linux version`)
	m.Quit()
}

// allModulesLoaded checks the boot's module line: modules were loaded and
// none failed (under Secure Boot an unsigned module is rejected). Coldplug
// loads only what the machine's devices need, so N of M is fewer than all;
// the later per-device and per-filesystem lines are covered by the same
// refusal of failure lines.
func allModulesLoaded(t *testing.T, m *Machine, line string) {
	t.Helper()
	sm := regexp.MustCompile(`loaded (\d+) of (\d+) in \S+`).FindStringSubmatch(line)
	if sm == nil {
		t.Fatalf("module line %q not understood", line)
	}
	if ok, all := atoi(t, sm[1]), atoi(t, sm[2]); ok < 1 || ok > all {
		t.Errorf("%d of %d modules loaded: want at least one (%s)", ok, all, line)
	}
	m.refuseLines(`tinyboot: .*modules: [a-z0-9_]+: `, `Key was rejected`, `module verification failed`)
	t.Logf("under Secure Boot: %s", line)
}

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkSignedImage reads the UKI back: signed by cert and verified by
// Debian's sbverify, and the private key's bytes appear nowhere in the
// image, its baked spec or tinyboot's cache.
func checkSignedImage(t *testing.T, img, keyPath, certPath string) {
	t.Helper()
	u := readUKI(t, img)
	efi := filepath.Join(t.TempDir(), "BOOTX64.EFI")
	if err := os.WriteFile(efi, u, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sbverify", "--cert", certPath, efi).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature verification OK") {
		t.Errorf("sbverify --cert %s: %v\n%s", certPath, err, out)
	}
	cert, err := authenticode.ReadCertificate(certPath)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := authenticode.Summarize(u)
	if err != nil {
		t.Fatal(err)
	}
	if err := sum.Verify(cert); err != nil {
		t.Errorf("our verifier: %v", err)
	}

	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := authenticode.Load(keyPath, certPath)
	if err != nil {
		t.Fatal(err)
	}
	// The key as PEM, and its secret exponent and first prime as bytes.
	needles := [][]byte{keyPEM, s.Key.D.Bytes(), s.Key.Primes[0].Bytes()}
	in, err := compose.Inspect(img)
	if err != nil {
		t.Fatal(err)
	}
	if in.Spec == nil {
		t.Fatal("no baked spec in the image")
	}
	if in.ModuleFiles == 0 || in.SignedModules != in.ModuleFiles {
		t.Errorf("%d of %d modules signed; a Secure Boot image must keep every module's signature", in.SignedModules, in.ModuleFiles)
	}
	if b, _ := os.ReadFile(img); containsAny(b, needles) {
		t.Errorf("the image holds the private key")
	}
	if js, _ := json.Marshal(in.Spec); bytes.Contains(js, []byte(keyPath)) || bytes.Contains(js, []byte("secure_boot")) {
		t.Errorf("the baked spec carries the signing key: %s", js)
	}
	cache, err := compose.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	// Everything but the downloaded kernel packages and their unpacked
	// trees, which the build only reads.
	err = filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "debs" || n == "kernels" {
				return filepath.SkipDir
			}
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && containsAny(b, needles) {
			t.Errorf("cache file %s holds the private key", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func containsAny(b []byte, needles [][]byte) bool {
	for _, n := range needles {
		if bytes.Contains(b, n) {
			return true
		}
	}
	return false
}

// readUKI returns the UKI inside an image's ESP.
func readUKI(t *testing.T, img string) []byte {
	t.Helper()
	im, err := iso.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	e, err := im.ESP()
	if err != nil {
		t.Fatal(err)
	}
	fat, err := esp.Open(bytes.NewReader(e))
	if err != nil {
		t.Fatal(err)
	}
	u, err := fat.ReadFile("EFI/BOOT/BOOTX64.EFI")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// tamperInitrd returns a copy of img with one byte of the UKI's .initrd
// changed wherever the ESP holds it (the El Torito image and the GPT
// partition may be the same bytes or two copies).
func tamperInitrd(t *testing.T, img string) string {
	t.Helper()
	u := readUKI(t, img)
	pe, err := uki.Read(bytes.NewReader(u))
	if err != nil {
		t.Fatal(err)
	}
	sec, ok := pe.Section(uki.SectionInitrd)
	if !ok {
		t.Fatal("UKI has no .initrd")
	}
	initrd, err := sec.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	// 256 bytes from the middle of the initrd: unique in the image.
	mid := len(initrd) / 2
	needle := initrd[mid : mid+256]
	n := 0
	for off := 0; ; {
		i := bytes.Index(b[off:], needle)
		if i < 0 {
			break
		}
		b[off+i+100] ^= 0x01
		off += i + len(needle)
		n++
	}
	if n == 0 {
		t.Fatal("initrd bytes not found in the image")
	}
	out := filepath.Join(t.TempDir(), "tampered.iso")
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// The change must survive into the UKI, or the test proves nothing.
	if bytes.Equal(readUKI(t, out), u) {
		t.Fatal("tampering left the UKI unchanged")
	}
	return out
}

// rebuildWithoutBootCache builds the spec again with a cache that shares
// everything but the cached ESPs, so the UKI is assembled and signed anew.
func rebuildWithoutBootCache(t *testing.T, text, dir string) string {
	t.Helper()
	shared, err := compose.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	entries, err := os.ReadDir(shared)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "esp" {
			if err := os.Symlink(filepath.Join(shared, e.Name()), filepath.Join(cache, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, diags := spec.Parse(filepath.Join(dir, "tinyboot.yaml"), []byte(text))
	if diags.HasErrors() {
		t.Fatalf("spec: %v", diags)
	}
	lock, err := pinnedLock(t, s, filepath.Join(t.TempDir(), "tinyboot.lock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildWait)
	defer cancel()
	res, err := compose.Build(ctx, s.WithDefaults(), compose.Options{
		Output:   filepath.Join(t.TempDir(), "again.iso"),
		Lock:     lock,
		CacheDir: cache,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cache, "esp")); err != nil {
		t.Fatalf("the rebuild did not assemble its own ESP: %v", err)
	}
	return res.Output
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}
