package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tinyboot/tinyboot/compose/ovmfvars"
	"github.com/tinyboot/tinyboot/compose/secureboot"
	"github.com/tinyboot/tinyboot/internal/qemu"
)

// execKeys runs `keys ARGS...` and returns its output and error message
// together, and the exit code main would use.
func execKeys(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, code, err := execCommand(newKeysCmd(), args...)
	if err != nil {
		out += err.Error()
	}
	return out, code
}

// execCommand runs cmd with args and returns stdout, the exit code main
// would use, and the error.
func execCommand(cmd *cobra.Command, args ...string) (string, int, error) {
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	if cmd.ErrOrStderr() == os.Stderr { // a test may collect stderr itself
		cmd.SetErr(&bytes.Buffer{})
	}
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	var ee *exitError
	switch {
	case err == nil:
		return out.String(), exitOK, nil
	case errors.As(err, &ee):
		return out.String(), ee.code, err
	}
	return out.String(), exitUsage, err
}

func TestKeysCreateEnrollRun(t *testing.T) {
	fw, err := qemu.FindSecureBootFirmware()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	// run --print-cmd keeps its enrolled store in TMPDIR.
	t.Setenv("TMPDIR", t.TempDir())
	keys := filepath.Join(dir, "keys")
	if out, code := execKeys(t, "create", keys); code != exitOK {
		t.Fatalf("keys create: exit %d: %s", code, out)
	}
	if out, code := execKeys(t, "create", keys); code != exitInvalid || !strings.Contains(out, "already exists") {
		t.Errorf("second keys create: exit %d: %s", code, out)
	}
	if out, code := execKeys(t, "enroll", keys); code != exitUsage {
		t.Errorf("enroll without --vars: exit %d: %s", code, out)
	}
	if out, code := execKeys(t, "enroll", dir, "--vars", filepath.Join(dir, "x.fd")); code != exitInvalid {
		t.Errorf("enroll from a directory without keys: exit %d: %s", code, out)
	}
	vars := filepath.Join(dir, "vars.fd")
	if out, code := execKeys(t, "enroll", keys, "--vars", vars, "--template", fw.Vars); code != exitOK {
		t.Fatalf("keys enroll: exit %d: %s", code, out)
	}
	b, err := os.ReadFile(vars)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ovmfvars.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := os.ReadFile(filepath.Join(keys, "PK.esl"))
	if v, ok := s.Get("PK", secureboot.GlobalVariable); !ok || !bytes.Equal(v.Data, pk) {
		t.Errorf("PK not enrolled in %s", vars)
	}

	img := filepath.Join(dir, "hello.bin")
	writeISO(t, img)
	out, code, err := execRun(t, img, "--print-cmd", "--accel", "tcg", "--secure-boot", keys)
	if code != exitOK {
		t.Fatalf("run --secure-boot --print-cmd: exit %d: %v", code, err)
	}
	for _, want := range []string{"file=" + fw.Code, "-machine smm=on", "driver=cfi.pflash01,property=secure,value=on"} {
		if !strings.Contains(out, want) {
			t.Errorf("command lacks %q:\n%s", want, out)
		}
	}
	if _, code, _ := execRun(t, img, "--print-cmd", "--secure-boot", dir); code != exitInvalid {
		t.Errorf("run --secure-boot with no keys: exit %d", code)
	}
}
