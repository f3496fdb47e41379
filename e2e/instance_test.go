package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/compose/cidata"
	"github.com/tinyboot/tinyboot/internal/qemu"
)

// TestInstanceEnv gives one machine its own variables twice over: a
// NoCloud drive (with a hostname) and the fw_cfg entry opt/tinyboot/env,
// as KubeVirt, Proxmox and `tbcompose run --env-file` do. The app gets
// both; the values are nowhere on the console nor in the image. The
// drive is an ISO9660 one (tbcompose disk create --cidata, KubeVirt) or
// a vfat one (cloud-localds -f vfat).
func TestInstanceEnv(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"iso9660", "vfat"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testInstanceEnv(t, kind)
		})
	}
}

const (
	noCloudSecret = "nocloud-s3cret-4b1d"
	fwCfgSecret   = "fwcfg-s3cret-9e2a"
)

// noCloudDrive writes a NoCloud drive of kind with meta-data and user-data.
func noCloudDrive(t *testing.T, kind string) string {
	t.Helper()
	dir := t.TempDir()
	env := []byte("DB_PASSWORD=" + noCloudSecret + "\nSHARED=from-nocloud\n")
	if kind == "iso9660" {
		seed := filepath.Join(dir, "seed.iso")
		if err := cidata.Write(seed, cidata.Options{Env: env, Hostname: "web-7", InstanceID: "i-e2e"}); err != nil {
			t.Fatal(err)
		}
		return seed
	}
	RequireTools(t, "mkfs.vfat", "mcopy")
	seed := filepath.Join(dir, "seed.img")
	if err := os.WriteFile(seed, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seed, 4<<20); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"meta-data": "instance-id: i-e2e\nlocal-hostname: web-7\n",
		"user-data": "#tinyboot-env\n" + string(env),
	}
	cmds := [][]string{{sbinTool("mkfs.vfat"), "-n", "CIDATA", seed}}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, []string{"mcopy", "-i", seed, p, "::" + name})
	}
	for _, c := range cmds {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	return seed
}

// sbinTool finds a tool that may live outside PATH in /usr/sbin.
func sbinTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range sbinDirs {
		if p := filepath.Join(d, name); isFile(p) {
			return p
		}
	}
	return name
}

func testInstanceEnv(t *testing.T, kind string) {
	timeScenario(t)
	seed := noCloudDrive(t, kind)
	dir := t.TempDir()
	envFile := filepath.Join(dir, "fw.env")
	if err := os.WriteFile(envFile, []byte("API_TOKEN="+fwCfgSecret+"\nSHARED=from-fwcfg\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	img := testImage(t, imageOpts{Args: []string{"-env-digest", "DB_PASSWORD,API_TOKEN,SHARED"}})
	m := boot(t, qemu.Config{
		Image:     img,
		Disks:     []string{seed},
		ExtraArgs: []string{"-fw_cfg", "name=opt/tinyboot/env,file=" + envFile},
	})
	ctx := context.Background()
	m.Expect(ctx, `tinyboot: .*instance: id i-e2e`, bootWait)
	m.Expect(ctx, `tinyboot: .*instance: hostname web-7`, stepWait)
	m.Expect(ctx, `tinyboot: .*instance: env from nocloud /dev/vd[a-z]: DB_PASSWORD SHARED`, stepWait)
	m.Expect(ctx, `tinyboot: .*instance: env from fw_cfg opt/tinyboot/env: API_TOKEN SHARED`, stepWait)
	expectApp(t, m)
	digest := func(v string) string {
		s := sha256.Sum256([]byte(v))
		return hex.EncodeToString(s[:])
	}
	m.Expect(ctx, `testapp: env DB_PASSWORD sha256 `+digest(noCloudSecret), stepWait)
	m.Expect(ctx, `testapp: env API_TOKEN sha256 `+digest(fwCfgSecret), stepWait)
	// fw_cfg is read after NoCloud: the more explicit source wins.
	m.Expect(ctx, `testapp: env SHARED sha256 `+digest("from-fwcfg"), stepWait)
	m.Expect(ctx, `testapp: hostname web-7`, stepWait)
	m.Expect(ctx, `testapp: ready`, stepWait)
	powerOff(t, m)

	console := m.consoleText()
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{noCloudSecret, fwCfgSecret} {
		if strings.Contains(console, v) {
			t.Errorf("the console shows the value %q", v)
		}
		if bytes.Contains(b, []byte(v)) {
			t.Errorf("the image %s holds the value %q", img, v)
		}
	}
}
