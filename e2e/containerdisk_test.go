package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/tinyboot/tinyboot/compose/containerdisk"
	"github.com/tinyboot/tinyboot/internal/qemu"
	"github.com/tinyboot/tinyboot/internal/registrytest"
	"github.com/tinyboot/tinyboot/spec"
)

// TestContainerDiskBoots takes the containerDisk the build wrote (format
// containerdisk), checks it is the containerDisk of the same build's ISO,
// pushes it to an in-process registry, pulls it back and boots the ISO
// found in the pulled layer under SeaBIOS, KubeVirt's default firmware,
// as a CD: what KubeVirt does with it.
func TestContainerDiskBoots(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	outs := formatImages(t, biosServeOpts)
	iso := outs[spec.FormatISO]
	want, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	built, err := containerdisk.ReadArchive(outs[spec.FormatContainerDisk], t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var digests []string
	for _, img := range []v1.Image{built, mustImage(t, iso)} {
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Fatalf("the build's containerDisk is %s, the containerDisk of its ISO %s", digests[0], digests[1])
	}

	ref := registrytest.Ref(t, registrytest.Serve(t)+"/tinyboot/e2e:e2e")
	registrytest.Push(t, ref, built)
	pulled := registrytest.Pull(t, ref)
	if d, _ := pulled.Digest(); d.String() != digests[0] {
		t.Errorf("pulled digest %s, built %s", d, digests[0])
	}
	h, disk, err := containerdisk.ReadDisk(pulled)
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "disk/e2e.iso" || h.Uid != 107 || h.Gid != 107 || h.Mode != 0o440 {
		t.Errorf("layer entry %s %d:%d %o, want disk/e2e.iso 107:107 0440", h.Name, h.Uid, h.Gid, h.Mode)
	}
	if !bytes.Equal(disk, want) {
		t.Fatal("the pulled disk differs from the built ISO")
	}
	pulledISO := filepath.Join(t.TempDir(), "e2e.iso")
	if err := os.WriteFile(pulledISO, disk, 0o644); err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	m := boot(t, qemu.Config{
		Image:        pulledISO,
		FirmwareKind: qemu.FirmwareBIOS,
		Publish:      []qemu.PortForward{{Host: uint16(port), Guest: 8080}},
	})
	serveAndStop(t, m, port, "/dev/sr0")
}

func mustImage(t *testing.T, iso string) v1.Image {
	t.Helper()
	img, err := containerdisk.Image(iso, "e2e", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	return img
}
