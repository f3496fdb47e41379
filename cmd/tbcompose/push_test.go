package main

import (
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tinyboot/tinyboot/compose/containerdisk"
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
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
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
	ref, err := name.ParseReference(host+"/tinyboot/hello:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
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
