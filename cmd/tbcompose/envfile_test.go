package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/agent/blkid"
)

// TestRunEnvFile: --env-file becomes a fw_cfg entry QEMU reads from the
// file; the value itself is never on the command line, and a bad file
// is refused naming the line only.
func TestRunEnvFile(t *testing.T) {
	dir := t.TempDir()
	iso := filepath.Join(dir, "a.iso")
	writeISO(t, iso)
	good := filepath.Join(dir, "prod,1.env")
	if err := os.WriteFile(good, []byte("DB_PASSWORD=hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.env")
	if err := os.WriteFile(bad, []byte("A=1\nhunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code, err := execRun(t, iso, "--print-cmd", "--accel", "tcg", "--env-file", good)
	if code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
	want := "-fw_cfg name=opt/tinyboot/env,file=" + strings.ReplaceAll(good, ",", ",,")
	if !strings.Contains(out, want) {
		t.Errorf("command %q lacks %q", out, want)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("command %q shows the value", out)
	}
	_, code, err = execRun(t, iso, "--print-cmd", "--env-file", bad)
	if code != exitUsage || err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad env file: exit %d, %v; want %d naming line 2 without the value", code, err, exitUsage)
	}
}

// TestDiskCreateCidata makes a NoCloud drive the agent would find.
func TestDiskCreateCidata(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "app.env")
	if err := os.WriteFile(env, []byte("API_TOKEN=t0k3n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "seed.iso")
	if code, err := execDisk(t, "create", out, "--cidata", env, "--hostname", "web-1"); code != exitOK {
		t.Fatalf("exit %d: %v", code, err)
	}
	info, err := blkid.ProbeFile(out)
	if err != nil || info.Type != blkid.ISO9660 || !strings.EqualFold(info.Label, "cidata") {
		t.Fatalf("probe %s: %+v, %v", out, info, err)
	}
	if _, err := execDisk(t, "create", out, "--cidata", env); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second create: %v, want a refusal pointing at --force", err)
	}
}
