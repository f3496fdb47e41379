package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/internal/qemu"
)

// recordTB stands in for *testing.T to observe RequireTools' verdicts
// without ending the real test.
type recordTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordTB) Helper()                      {}
func (r *recordTB) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }
func (r *recordTB) Skipf(f string, args ...any)  { r.skip = fmt.Sprintf(f, args...) }

func TestRequireTools(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			r := &recordTB{}
			RequireTools(r, "sh", "no-such-tool-xyz", "/no/such/linuxx64.efi.stub")
			got := r.skip
			if ci == "true" {
				got = r.fatal
				if r.skip != "" {
					t.Errorf("skipped in CI: %s", r.skip)
				}
			} else if r.fatal != "" {
				t.Errorf("failed outside CI: %s", r.fatal)
			}
			for _, want := range []string{"no-such-tool-xyz", "/no/such/linuxx64.efi.stub", "apt-get install"} {
				if !strings.Contains(got, want) {
					t.Errorf("message %q lacks %q", got, want)
				}
			}
			if strings.Contains(got, "sh,") {
				t.Errorf("message %q names a present tool", got)
			}
		})
	}
	r := &recordTB{}
	RequireTools(r, "sh")
	if r.fatal != "" || r.skip != "" {
		t.Errorf("present tool reported missing: %q %q", r.fatal, r.skip)
	}
	if msg := missingMessage(t, qemu.DefaultBinary); msg != "" && !strings.Contains(msg, "qemu-system-x86") {
		t.Errorf("message %q does not name the qemu package", msg)
	}
}

// missingMessage returns what RequireTools says about name outside CI,
// "" when it is installed.
func missingMessage(t *testing.T, name string) string {
	t.Setenv("CI", "")
	r := &recordTB{}
	RequireTools(r, name)
	return r.skip
}

// TestHarnessBootsFirmware boots OVMF with no disk: proof that QEMU, the
// firmware and the harness work on this machine before any image test
// runs.
func TestHarnessBootsFirmware(t *testing.T) {
	if testing.Short() {
		t.Skip("boots firmware (about 10-30 s under TCG)")
	}
	RequireTools(t, qemu.DefaultBinary, ToolOVMF)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()
	m := Boot(t, ctx, qemu.Config{Memory: "128M", NoNetwork: true})
	line := m.Expect(ctx, `BdsDxe|UEFI Interactive Shell`, 60*time.Second)
	t.Logf("firmware on serial after %v: %q", time.Since(start).Round(time.Millisecond), line)
	m.Quit()
	if got := m.WaitExit(10 * time.Second); got != qemu.ExitQuit {
		t.Errorf("machine ended with %s, want %s", got, qemu.ExitQuit)
	}
	b, err := os.ReadFile(m.LogPath)
	if err != nil || !strings.Contains(string(b), line) {
		t.Errorf("console log %s lacks %q (%v)", m.LogPath, line, err)
	}
}

func TestStripEscapes(t *testing.T) {
	tests := map[string]string{
		"\x1b[2J\x1b[01;01H\x1b[=3hBdsDxe: loading\r": "BdsDxe: loading",
		"\x1b[1m\x1b[33m\x1b[40mShell> \x1b[0m":       "Shell> ",
		"plain":                                       "plain",
	}
	for in, want := range tests {
		if got := stripEscapes(in); got != want {
			t.Errorf("stripEscapes(%q) = %q, want %q", in, got, want)
		}
	}
}
