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
	"encoding/json"
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
	"github.com/tinyboot/tinyboot/internal/arch"
	"github.com/tinyboot/tinyboot/internal/cache"
)

// ModulePath is this module's path; the agent's main package is below it.
const ModulePath = "github.com/tinyboot/tinyboot"

const mainPkg = "./cmd/tbagent"

// CacheKind is the cache directory of built agents.
const CacheKind = "agent"

// Build returns the path of an agent binary in the cache, building it
// first unless one built from the same source is there already; cached
// says which.
//
// In a checkout of this module (development, CI, `go run`) the agent is
// built from the checkout and cached by a hash of exactly the files `go
// list -deps` says it is built from. A released composer builds the agent
// at its own version in a temporary module, cached by version.
func Build(ctx context.Context, store *cache.Cache) (path string, cached bool, err error) {
	return BuildArch(ctx, store, arch.Default)
}

// BuildArch is Build for the image architecture goarch; the cache key
// includes it, so agents of different architectures never mix.
func BuildArch(ctx context.Context, store *cache.Cache, goarch string) (path string, cached bool, err error) {
	if _, err := arch.Lookup(goarch); err != nil {
		return "", false, fmt.Errorf("agent: %w", err)
	}
	if root := SourceRoot(); root != "" {
		return buildLocal(ctx, root, store, goarch)
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Path != ModulePath || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return "", false, errors.New("agent: cannot find the tinyboot source to build the agent from; run tbcompose from a checkout, set TINYBOOT_SRC to one, or pass --agent with a prebuilt agent")
	}
	return buildRelease(ctx, bi.Main.Version, store, goarch)
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

func buildLocal(ctx context.Context, root string, store *cache.Cache, goarch string) (string, bool, error) {
	key, err := sourceHash(ctx, root, goarch)
	if err != nil {
		return "", false, fmt.Errorf("agent: hash source in %s: %w", root, err)
	}
	out := store.Path(CacheKind, "dev-"+goarch+"-"+key)
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() {
		return out, true, nil
	}
	if err := goBuild(ctx, root, mainPkg, out, goarch); err != nil {
		return "", false, err
	}
	store.Use(out)
	return out, false, nil
}

func buildRelease(ctx context.Context, version string, store *cache.Cache, goarch string) (string, bool, error) {
	out := store.Path(CacheKind, "v-"+strings.NewReplacer("/", "_", "+", "_").Replace(version)+"-"+runtime.Version()+"-"+goarch)
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() {
		return out, true, nil
	}
	tmp, err := os.MkdirTemp("", "tinyboot-agent-*")
	if err != nil {
		return "", false, fmt.Errorf("agent: %w", err)
	}
	defer os.RemoveAll(tmp)
	goLine, err := moduleGoVersion(ctx, tmp, version)
	if err != nil {
		return "", false, err
	}
	gomod := fmt.Sprintf("module tinyboot-agent-build\n\ngo %s\n\nrequire %s %s\n", goLine, ModulePath, version)
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte(gomod), 0o644); err != nil {
		return "", false, fmt.Errorf("agent: %w", err)
	}
	tidy := exec.CommandContext(ctx, "go", "mod", "tidy")
	tidy.Dir = tmp
	// tidy needs an importing file to keep the requirement.
	if err := os.WriteFile(filepath.Join(tmp, "tools.go"), []byte("//go:build tools\n\npackage tools\n\nimport _ \""+ModulePath+"/cmd/tbagent\"\n"), 0o644); err != nil {
		return "", false, fmt.Errorf("agent: %w", err)
	}
	if b, err := tidy.CombinedOutput(); err != nil {
		return "", false, fmt.Errorf("agent: resolve %s@%s: %v\n%s", ModulePath, version, err, b)
	}
	if err := goBuild(ctx, tmp, ModulePath+"/cmd/tbagent", out, goarch); err != nil {
		return "", false, err
	}
	store.Use(out)
	return out, false, nil
}

// moduleGoVersion downloads ModulePath@version and returns the go version
// its go.mod declares, so the temporary module asks for the same language
// version the agent's source was written for.
func moduleGoVersion(ctx context.Context, dir, version string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", ModulePath+"@"+version)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("agent: fetch %s@%s: %v", ModulePath, version, err)
	}
	var info struct{ GoMod string }
	if err := json.Unmarshal(b, &info); err != nil || info.GoMod == "" {
		return "", fmt.Errorf("agent: fetch %s@%s: no go.mod in %q", ModulePath, version, b)
	}
	mod, err := os.ReadFile(info.GoMod)
	if err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "go" {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("agent: %s@%s: go.mod has no go line", ModulePath, version)
}

func goBuild(ctx context.Context, dir, pkg, out, goarch string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp")
	args := append(append([]string{}, app.GoBuildArgs...), "-o", tmp, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = app.GoEnvArch(goarch)
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

// sourceHash hashes what the agent is built from, exactly: go.mod, go.sum
// and every file of every package of this module that `go list -deps`
// reports for the agent's main package when built for the image, with the
// Go version and the target architecture. Packages of other modules are
// pinned by go.sum.
func sourceHash(ctx context.Context, root, goarch string) (string, error) {
	files, err := sourceFiles(ctx, root, goarch)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "go %s\ngoarch %s\n", runtime.Version(), goarch)
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

// listedPackage is what sourceFiles reads of `go list -json`.
type listedPackage struct {
	ImportPath string
	Dir        string
	Standard   bool
	Module     *struct{ Path string }
	GoFiles    []string
	CgoFiles   []string
	SFiles     []string
	HFiles     []string
	EmbedFiles []string
}

// sourceFiles lists the files sourceHash reads, relative to root, sorted.
func sourceFiles(ctx context.Context, root, goarch string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-json=ImportPath,Dir,Standard,Module,GoFiles,CgoFiles,SFiles,HFiles,EmbedFiles", mainPkg)
	cmd.Dir = root
	cmd.Env = app.GoEnvArch(goarch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s: %v: %s", mainPkg, err, strings.TrimSpace(stderr.String()))
	}
	files := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("go list -deps %s: %w", mainPkg, err)
		}
		if p.Standard || p.Module == nil || p.Module.Path != ModulePath {
			continue
		}
		for _, group := range [][]string{p.GoFiles, p.CgoFiles, p.SFiles, p.HFiles, p.EmbedFiles} {
			for _, name := range group {
				rel, err := filepath.Rel(root, filepath.Join(p.Dir, name))
				if err != nil || !filepath.IsLocal(rel) {
					return nil, fmt.Errorf("go list -deps %s: %s is outside %s", mainPkg, filepath.Join(p.Dir, name), root)
				}
				files = append(files, rel)
			}
		}
	}
	sort.Strings(files)
	return files, nil
}
