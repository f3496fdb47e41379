package agentbin

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tinyboot/tinyboot/compose/app"
	"github.com/tinyboot/tinyboot/internal/arch"
	"github.com/tinyboot/tinyboot/internal/cache"
)

// fakeModule writes a minimal checkout of this module whose agent prints
// msg and imports agent/ (which imports nothing).
func fakeModule(t *testing.T, msg string) string {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"go.mod":                "module " + ModulePath + "\n\ngo 1.24\n",
		"cmd/tbagent/main.go":   "package main\n\nimport _ \"" + ModulePath + "/agent\"\n\nfunc main() { println(\"" + msg + "\") }\n",
		"agent/doc.go":          "package agent\n",
		"compose/other/main.go": "package other\n",
	})
	return root
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBuildCachesBySource(t *testing.T) {
	root := fakeModule(t, "one")
	t.Setenv("TINYBOOT_SRC", root)
	store := cache.Open(t.TempDir())
	ctx := context.Background()
	first, cached, err := Build(ctx, store)
	if err != nil || cached {
		t.Fatalf("first build: cached %v, %v", cached, err)
	}
	again, cached, err := Build(ctx, store)
	if err != nil || again != first || !cached {
		t.Fatalf("second build: %s (cached %v), %v; want cached %s", again, cached, err, first)
	}

	// A change outside the agent's source keeps the cache...
	writeFiles(t, root, map[string]string{"compose/other/main.go": "package other\n// changed\n"})
	if p, cached, err := Build(ctx, store); err != nil || p != first || !cached {
		t.Fatalf("unrelated change rebuilt the agent: %s, %v", p, err)
	}
	// ...a change to it rebuilds.
	writeFiles(t, root, map[string]string{"cmd/tbagent/main.go": "package main\n\nfunc main() { println(\"two\") }\n"})
	second, cached, err := Build(ctx, store)
	if err != nil || cached {
		t.Fatalf("changed source: cached %v, %v", cached, err)
	}
	if second == first {
		t.Fatal("agent source changed but the cached binary was reused")
	}
}

// TestSourceHashFollowsImports makes sure the cache key is what the agent
// is built from, not a list kept by hand: a package the agent starts to
// import is covered at once, and one it does not import never is.
func TestSourceHashFollowsImports(t *testing.T) {
	root := fakeModule(t, "x")
	ctx := context.Background()
	writeFiles(t, root, map[string]string{
		"internal/newdep/newdep.go": "package newdep\n\nconst Msg = \"a\"\n",
		"internal/unused/unused.go": "package unused\n",
	})
	hash := func() string {
		t.Helper()
		h, err := sourceHash(ctx, root, "amd64")
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := hash()
	writeFiles(t, root, map[string]string{"internal/newdep/newdep.go": "package newdep\n\nconst Msg = \"b\"\n"})
	if hash() != before {
		t.Fatal("a package the agent does not import changed the key")
	}
	writeFiles(t, root, map[string]string{"cmd/tbagent/main.go": "package main\n\nimport \"" + ModulePath + "/internal/newdep\"\n\nfunc main() { println(newdep.Msg) }\n"})
	imported := hash()
	writeFiles(t, root, map[string]string{"internal/newdep/newdep.go": "package newdep\n\nconst Msg = \"c\"\n"})
	if hash() == imported {
		t.Fatal("a change to a newly imported package did not change the key")
	}
	files, err := sourceFiles(ctx, root, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cmd/tbagent/main.go", "go.mod", "go.sum", "internal/newdep/newdep.go"}
	if !slices.Equal(files, want) {
		t.Errorf("hashed %v, want %v", files, want)
	}
}

// TestRealAgentSourcesCovered checks this checkout: every package of the
// module the real agent imports has its files in the key.
func TestRealAgentSourcesCovered(t *testing.T) {
	root := SourceRoot()
	files, err := sourceFiles(context.Background(), root, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cmd/tbagent/main.go", "agent/agent.go", "spec/baked/baked.go"} {
		if !slices.Contains(files, want) {
			t.Errorf("agent key misses %s (has %v)", want, files)
		}
	}
}

func TestBuildFailureNamesPackage(t *testing.T) {
	root := fakeModule(t, "x")
	writeFiles(t, root, map[string]string{"cmd/tbagent/main.go": "package main\nfunc main() { nope() }\n"})
	t.Setenv("TINYBOOT_SRC", root)
	_, _, err := Build(context.Background(), cache.Open(t.TempDir()))
	if err == nil {
		t.Fatal("broken agent built")
	}
	t.Log(err)
}

func TestSourceRootFindsThisCheckout(t *testing.T) {
	t.Setenv("TINYBOOT_SRC", "")
	root := SourceRoot()
	if !isModuleRoot(root) {
		t.Fatalf("SourceRoot() = %q, not this module", root)
	}
}

// TestBuildArchKeysCache builds the agent for each architecture from one
// source: two cache entries, each an executable of its own machine, and
// the second build of each is cached.
func TestBuildArchKeysCache(t *testing.T) {
	root := fakeModule(t, "one")
	t.Setenv("TINYBOOT_SRC", root)
	store := cache.Open(t.TempDir())
	ctx := context.Background()
	paths := map[string]string{}
	for _, goarch := range []string{"amd64", "arm64"} {
		p, cached, err := BuildArch(ctx, store, goarch)
		if err != nil || cached {
			t.Fatalf("%s: cached %v, %v", goarch, cached, err)
		}
		if err := app.CheckExecutableArch(p, arch.MustLookup(goarch)); err != nil {
			t.Errorf("%s agent: %v", goarch, err)
		}
		paths[goarch] = p
	}
	if paths["amd64"] == paths["arm64"] {
		t.Fatalf("both architectures cached at %s", paths["amd64"])
	}
	for goarch, want := range paths {
		if p, cached, err := BuildArch(ctx, store, goarch); err != nil || p != want || !cached {
			t.Errorf("%s again: %s (cached %v), %v; want cached %s", goarch, p, cached, err, want)
		}
	}
	if _, _, err := BuildArch(ctx, store, "riscv64"); err == nil {
		t.Error("built an agent for riscv64")
	}
}
