package spec

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretEnvWarns(t *testing.T) {
	head := "name: a\nkernel: {package: linux-image-amd64}\n"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"secrets", head + "app:\n  go: ./hello\n  env:\n    MINIO_ROOT_PASSWORD: x\n    API_KEY: y\n    GREETING: hi\n    MONKEY: z\n    github_token: t\n", []string{
			"6:26: warning: app.env.MINIO_ROOT_PASSWORD: MINIO_ROOT_PASSWORD looks like a secret; app.env is baked into the image in clear text",
			"7:14: warning: app.env.API_KEY: API_KEY looks like a secret; app.env is baked into the image in clear text",
			"10:19: warning: app.env.github_token: github_token looks like a secret; app.env is baked into the image in clear text",
		}},
		{"none", head + "app: {go: ./hello, env: {GREETING: hi, KEYBOARD: us}}\n", nil},
	}
	dir := fixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse(filepath.Join(dir, "tinyboot.yaml"), []byte(tc.yaml))
			got := brief(diags)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("diagnostics:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			for _, d := range diags {
				if d.Severity == SeverityWarning && !strings.Contains(d.Hint, "--env-file") {
					t.Errorf("hint %q does not point at --env-file", d.Hint)
				}
			}
		})
	}
}
