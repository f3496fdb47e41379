package agentbin

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// fakeModule writes a minimal checkout of this module whose agent prints msg.
func fakeModule(t *testing.T, msg string) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                "module " + ModulePath + "\n\ngo 1.21\n",
		"cmd/tbagent/main.go":   "package main\n\nfunc main() { println(\"" + msg + "\") }\n",
		"agent/doc.go":          "package agent\n",
		"compose/other/main.go": "package other\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestBuildCachesBySource(t *testing.T) {
	root := fakeModule(t, "one")
	t.Setenv("TINYBOOT_SRC", root)
	cache := t.TempDir()
	first, err := Build(context.Background(), cache)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(first)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Build(context.Background(), cache)
	if err != nil || again != first {
		t.Fatalf("second build: %s, %v; want cached %s", again, err, first)
	}
	if fi2, _ := os.Stat(again); !fi2.ModTime().Equal(fi.ModTime()) {
		t.Error("cached agent was rebuilt")
	}

	// A change outside the agent's source keeps the cache...
	if err := os.WriteFile(filepath.Join(root, "compose/other/main.go"), []byte("package other\n// changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := Build(context.Background(), cache); err != nil || p != first {
		t.Fatalf("unrelated change rebuilt the agent: %s, %v", p, err)
	}
	// ...a change to it rebuilds.
	if err := os.WriteFile(filepath.Join(root, "cmd/tbagent/main.go"), []byte("package main\n\nfunc main() { println(\"two\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := Build(context.Background(), cache)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatal("agent source changed but the cached binary was reused")
	}
}

func TestBuildFailureNamesPackage(t *testing.T) {
	root := fakeModule(t, "x")
	if err := os.WriteFile(filepath.Join(root, "cmd/tbagent/main.go"), []byte("package main\nfunc main() { nope() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TINYBOOT_SRC", root)
	_, err := Build(context.Background(), t.TempDir())
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
