package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/compose/containerdisk"
	"github.com/tinyboot/tinyboot/internal/registrytest"
)

// TestPushAndArchive pushes an ISO to an in-process registry, pulls it
// back and checks the disk, and writes the same image as an archive: the
// digest printed by both commands is the same.
func TestPushAndArchive(t *testing.T) {
	dir := t.TempDir()
	iso := filepath.Join(dir, "hello.iso")
	writeISO(t, iso)
	want, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	host := registrytest.Serve(t)
	t.Setenv("DOCKER_CONFIG", dir) // no credentials: anonymous

	var out bytes.Buffer
	cmd := newPushCmd()
	cmd.SetArgs([]string{"--insecure", iso, host + "/tinyboot/hello:v1"})
	cmd.SetOut(&out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	printed := strings.TrimSpace(out.String())
	if !strings.HasPrefix(printed, host+"/tinyboot/hello@sha256:") {
		t.Fatalf("push printed %q, want REPO@sha256:...", printed)
	}
	img := registrytest.Pull(t, registrytest.Ref(t, host+"/tinyboot/hello:v1"))
	h, got, err := containerdisk.ReadDisk(img)
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "disk/hello.iso" || h.Uid != 107 || h.Gid != 107 || h.Mode != 0o440 || !bytes.Equal(got, want) {
		t.Errorf("pulled %s %d:%d %o (same bytes: %v), want disk/hello.iso 107:107 0440 with the ISO's bytes", h.Name, h.Uid, h.Gid, h.Mode, bytes.Equal(got, want))
	}

	out.Reset()
	archive := filepath.Join(dir, "hello.containerdisk.tar")
	cmd = newContainerDiskCmd()
	cmd.SetArgs([]string{iso, "-o", archive})
	cmd.SetOut(&out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	_, digest, _ := strings.Cut(printed, "@")
	if got := strings.TrimSpace(out.String()); got != archive+" "+digest {
		t.Errorf("containerdisk printed %q, want %q", got, archive+" "+digest)
	}

	cmd = newPushCmd()
	cmd.SetArgs([]string{iso, "Not A Ref"})
	cmd.SetOut(io.Discard)
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "reference") {
		t.Errorf("bad reference: %v", err)
	}
}
