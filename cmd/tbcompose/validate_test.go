package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot"
	"github.com/tinyboot/tinyboot/spec"
)

// runCLI runs tbcompose with args on a fresh command tree, as main does,
// and returns its exit code and stdout.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&errOut)
	code := runWith(root, args, &errOut)
	return code, out.String()
}

func writeSpec(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "tinyboot.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "hello"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

const validSpec = `name: hello
kernel: {package: linux-image-amd64}
app: {go: ./hello}
`

const invalidSpec = `name: hello
kernel: {package: linux-image-amd64}
app: {go: ./hello, on_exit: rebot}
`

// warningSpec is valid but draws a warning: restart always never exits,
// so on_exit does nothing.
const warningSpec = `name: hello
kernel: {package: linux-image-amd64}
app: {go: ./hello, restart: always, on_exit: halt}
`

func TestValidateExitCodes(t *testing.T) {
	valid := writeSpec(t, validSpec)
	invalid := writeSpec(t, invalidSpec)
	warning := writeSpec(t, warningSpec)
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"example", []string{"validate", "--format=human", "--strict=false", "../../examples/tinyboot.yaml"}, 0, "../../examples/tinyboot.yaml: valid\n"},
		{"valid", []string{"validate", "--format=human", "--strict=false", valid}, 0, valid + ": valid\n"},
		{"invalid", []string{"validate", "--format=human", "--strict=false", invalid}, 1,
			invalid + ":3:29: app.on_exit: invalid value \"rebot\"; did you mean \"reboot\"?\n  hint: one of: reboot, poweroff, halt\n" +
				invalid + ": invalid: 1 error, 0 warnings\n"},
		{"warning", []string{"validate", "--format=human", "--strict=false", warning}, 0, "valid, 1 warning"},
		{"warning strict", []string{"validate", "--format=human", "--strict=true", warning}, 1, "invalid: 0 errors, 1 warning"},
		{"missing file", []string{"validate", "--format=human", "--strict=false", filepath.Join(t.TempDir(), "nope.yaml")}, 2, ""},
		{"bad format", []string{"validate", "--format=xml", "--strict=false", valid}, 2, ""},
		{"two args", []string{"validate", "--format=human", "--strict=false", valid, valid}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.code, out)
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("output:\n%s\nwant it to contain:\n%s", out, tc.out)
			}
		})
	}
}

func TestValidateDefaultFile(t *testing.T) {
	path := writeSpec(t, invalidSpec)
	t.Chdir(filepath.Dir(path))
	code, out := runCLI(t, "validate", "--format=human", "--strict=false")
	if code != 1 || !strings.HasPrefix(out, "tinyboot.yaml:3:29: app.on_exit:") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}

func TestValidateFormats(t *testing.T) {
	path := writeSpec(t, invalidSpec)

	code, out := runCLI(t, "validate", "--format=json", "--strict=false", path)
	if code != 1 {
		t.Fatalf("json: exit %d", code)
	}
	var diags []spec.Diagnostic
	if err := json.Unmarshal([]byte(out), &diags); err != nil {
		t.Fatalf("json output %q: %v", out, err)
	}
	want := spec.Diagnostic{File: path, Line: 3, Column: 29, Path: "app.on_exit",
		Message: `invalid value "rebot"; did you mean "reboot"?`, Hint: "one of: reboot, poweroff, halt", Severity: "error"}
	if len(diags) != 1 || diags[0] != want {
		t.Fatalf("json diagnostics = %+v, want [%+v]", diags, want)
	}

	code, out = runCLI(t, "validate", "--format=github", "--strict=false", path)
	wantGH := "::error file=" + path + ",line=3,col=29::app.on_exit: invalid value \"rebot\"; did you mean \"reboot\"?%0Ahint: one of: reboot, poweroff, halt\n"
	if code != 1 || out != wantGH {
		t.Fatalf("github: exit %d, output %q, want %q", code, out, wantGH)
	}

	// A valid spec still prints an empty JSON array, so pipelines can
	// always parse the output.
	code, out = runCLI(t, "validate", "--format=json", "--strict=false", writeSpec(t, validSpec))
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("valid json: exit %d, output %q", code, out)
	}
}

func TestSchemaCommand(t *testing.T) {
	code, out := runCLI(t, "schema")
	if code != 0 || out != string(tinyboot.Schema) {
		t.Fatalf("exit %d, output differs from schema.json (%d vs %d bytes)", code, len(out), len(tinyboot.Schema))
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
}

// TestFreshTreePerRun makes sure no flag outlives one invocation: --strict
// fails a spec with a warning, and the next run without it passes.
func TestFreshTreePerRun(t *testing.T) {
	path := writeSpec(t, warningSpec)
	if code, out := runCLI(t, "validate", "--strict", path); code != exitInvalid {
		t.Fatalf("--strict with a warning: exit %d\n%s", code, out)
	}
	if code, out := runCLI(t, "validate", path); code != exitOK {
		t.Fatalf("--strict leaked into the next run: exit %d\n%s", code, out)
	}
}
