package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tinyboot/tinyboot/compose/containerdisk"
	"github.com/tinyboot/tinyboot/internal/qemu"
	"github.com/tinyboot/tinyboot/internal/registrytest"
	"github.com/tinyboot/tinyboot/spec"
)

// TestContainerDiskBoots packs the example as a containerDisk, pushes it
// to an in-process registry, pulls it back and boots the ISO found in the
// pulled layer: what KubeVirt does with it.
func TestContainerDiskBoots(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	text, err := os.ReadFile(filepath.Join("..", "examples", "tinyboot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	exampleDir, err := filepath.Abs(filepath.Join("..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	iso := buildImage(t, string(text), exampleDir)
	want, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}

	var digests []string
	for i := 0; i < 2; i++ {
		img, err := containerdisk.Image(iso, "hello", "amd64")
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Fatalf("two containerDisks of the same ISO: %s and %s", digests[0], digests[1])
	}

	ref := registrytest.Ref(t, registrytest.Serve(t)+"/tinyboot/hello:e2e")
	img, err := containerdisk.Image(iso, "hello", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	registrytest.Push(t, ref, img)
	pulled := registrytest.Pull(t, ref)
	if d, _ := pulled.Digest(); d.String() != digests[0] {
		t.Errorf("pulled digest %s, built %s", d, digests[0])
	}
	h, disk, err := containerdisk.ReadDisk(pulled)
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "disk/hello.iso" || h.Uid != 107 || h.Gid != 107 || h.Mode != 0o440 {
		t.Errorf("layer entry %s %d:%d %o, want disk/hello.iso 107:107 0440", h.Name, h.Uid, h.Gid, h.Mode)
	}
	if !bytes.Equal(disk, want) {
		t.Fatal("the pulled disk differs from the built ISO")
	}
	pulledISO := filepath.Join(t.TempDir(), "hello.iso")
	if err := os.WriteFile(pulledISO, disk, 0o644); err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	m := boot(t, qemu.Config{
		Image:   pulledISO,
		Disks:   []string{newDisk(t, spec.FSBtrfs, spec.DefaultLabel)},
		Publish: []qemu.PortForward{{Host: uint16(port), Guest: 8080}},
	})
	ctx := context.Background()
	m.Expect(ctx, `hello: listening on :8080`, bootWait)
	page := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	if !bytes.Contains(page, []byte("hello from tinyboot")) {
		t.Errorf("GET / lacks the greeting:\n%s", page)
	}
	powerOff(t, m)
}
