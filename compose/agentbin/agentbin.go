// Package agentbin provides the tinyboot agent binary that becomes /init in
// every image.
//
// The agent is built separately from the composer, never copied from it,
// because it must stay small: the composer links YAML, schema and disk-image
// code the agent has no use for. It is built from this module's own source
// with the same Go toolchain that builds the app, and cached.
package agentbin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/tinyboot/tinyboot/compose/app"
)

// ModulePath is this module's path; the agent's main package is below it.
const ModulePath = "github.com/tinyboot/tinyboot"

const mainPkg = "./cmd/tbagent"

// sourceDirs are the parts of the module the agent is built from; their
// content is the cache key of a development build.
var sourceDirs = []string{"agent", "cmd/tbagent", "spec/baked"}

// Build returns the path of an agent binary in cacheDir, building it first
// unless one built from the same source is there already.
//
// In a checkout of this module (development, CI, `go run`) the agent is
// built from the checkout and cached by a hash of its source. A released
// composer builds the agent at its own version in a temporary module,
// cached by version.
func Build(ctx context.Context, cacheDir string) (string, error) {
	if root := SourceRoot(); root != "" {
		return buildLocal(ctx, root, cacheDir)
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Path != ModulePath || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return "", errors.New("agent: cannot find the tinyboot source to build the agent from; run tbcompose from a checkout, set TINYBOOT_SRC to one, or pass --agent with a prebuilt agent")
	}
	return buildRelease(ctx, bi.Main.Version, cacheDir)
}

// SourceRoot finds a checkout of this module: $TINYBOOT_SRC, the directory
// this package was compiled from (when built without -trimpath), or the
// nearest parent of the working directory holding this module's go.mod.
func SourceRoot() string {
	if dir := os.Getenv("TINYBOOT_SRC"); dir != "" {
		return dir
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
		if isModuleRoot(root) {
			return root
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if isModuleRoot(dir) {
				return dir
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return ""
}

func isModuleRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return f[1] == ModulePath
		}
	}
	return false
}

func buildLocal(ctx context.Context, root, cacheDir string) (string, error) {
	key, err := sourceHash(root)
	if err != nil {
		return "", fmt.Errorf("agent: hash source in %s: %w", root, err)
	}
	out := filepath.Join(cacheDir, "agent", "dev-"+key)
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() {
		return out, nil
	}
	if err := goBuild(ctx, root, mainPkg, out); err != nil {
		return "", err
	}
	return out, nil
}

func buildRelease(ctx context.Context, version, cacheDir string) (string, error) {
	out := filepath.Join(cacheDir, "agent", "v-"+strings.NewReplacer("/", "_", "+", "_").Replace(version)+"-"+runtime.Version())
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() {
		return out, nil
	}
	tmp, err := os.MkdirTemp("", "tinyboot-agent-*")
	if err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	defer os.RemoveAll(tmp)
	gomod := fmt.Sprintf("module tinyboot-agent-build\n\ngo 1.21\n\nrequire %s %s\n", ModulePath, version)
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte(gomod), 0o644); err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", ModulePath)
	cmd.Dir = tmp
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("agent: fetch %s@%s: %v\n%s", ModulePath, version, err, b)
	}
	tidy := exec.CommandContext(ctx, "go", "mod", "tidy")
	tidy.Dir = tmp
	// tidy needs an importing file to keep the requirement.
	if err := os.WriteFile(filepath.Join(tmp, "tools.go"), []byte("//go:build tools\n\npackage tools\n\nimport _ \""+ModulePath+"/cmd/tbagent\"\n"), 0o644); err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	if b, err := tidy.CombinedOutput(); err != nil {
		return "", fmt.Errorf("agent: resolve %s@%s: %v\n%s", ModulePath, version, err, b)
	}
	if err := goBuild(ctx, tmp, ModulePath+"/cmd/tbagent", out); err != nil {
		return "", err
	}
	return out, nil
}

func goBuild(ctx context.Context, dir, pkg, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	tmp := out + ".tmp"
	args := append(append([]string{}, app.GoBuildArgs...), "-o", tmp, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = app.GoEnv()
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("agent: go build %s in %s: %v\n%s", pkg, dir, err, strings.TrimSpace(output.String()))
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}

// sourceHash hashes go.mod, go.sum and every non-test Go file the agent is
// built from, with the composer's Go version, so any change rebuilds it.
func sourceHash(root string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "go %s\n", runtime.Version())
	files := []string{"go.mod", "go.sum"}
	for _, d := range sourceDirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				rel, _ := filepath.Rel(root, p)
				files = append(files, rel)
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}
