package containerdisk

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/internal/registrytest"
)

// fakeISO writes random bytes standing in for an ISO (the layer does not
// look inside); the e2e test packs and boots the real example.
func fakeISO(t *testing.T, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "hello.iso")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

func TestImageLayer(t *testing.T) {
	iso, want := fakeISO(t, 3<<20+17)
	img, err := Image(iso, "hello", "")
	if err != nil {
		t.Fatal(err)
	}
	h, got, err := ReadDisk(img)
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "disk/hello.iso" || h.Uid != OwnerID || h.Gid != OwnerID || h.Mode != DiskMode || !h.ModTime.Equal(Epoch) {
		t.Errorf("header %s uid %d gid %d mode %o time %s; want disk/hello.iso 107:107 0440 at the epoch", h.Name, h.Uid, h.Gid, h.Mode, h.ModTime)
	}
	if !bytes.Equal(got, want) {
		t.Error("the layer's disk differs from the ISO")
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || !cf.Created.Time.Equal(Epoch) {
		t.Errorf("config %s/%s created %s; want linux/amd64 at the epoch", cf.OS, cf.Architecture, cf.Created)
	}
	mt, _ := img.MediaType()
	if !strings.Contains(string(mt), "oci") {
		t.Errorf("manifest media type %s, want OCI", mt)
	}
}

// TestReproducible: two builds of the same ISO give the same digest and
// byte-identical archives; a different ISO gives another digest.
func TestReproducible(t *testing.T) {
	iso, _ := fakeISO(t, 1<<20)
	dir := t.TempDir()
	var digests []string
	var archives [][]byte
	for i := 0; i < 2; i++ {
		img, err := Image(iso, "hello", "amd64")
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
		out := filepath.Join(dir, "hello.containerdisk.tar")
		if err := WriteArchive(out, img, "hello"); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, b)
	}
	if digests[0] != digests[1] {
		t.Errorf("digests %s and %s differ", digests[0], digests[1])
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Error("two archives of the same ISO differ")
	}
	other, _ := fakeISO(t, 1<<20)
	img, err := Image(other, "hello", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d.String() == digests[0] {
		t.Error("a different ISO gives the same digest")
	}
	// The archive is an OCI layout.
	names := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(archives[0]))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
	for _, want := range []string{"oci-layout", "index.json", "blobs/sha256/" + strings.TrimPrefix(digests[0], "sha256:")} {
		if !names[want] {
			t.Errorf("archive lacks %s (has %v)", want, names)
		}
	}
}

// TestPushPull goes through go-containerregistry's in-process registry.
func TestPushPull(t *testing.T) {
	iso, want := fakeISO(t, 2<<20)
	ref := registrytest.Ref(t, registrytest.Serve(t)+"/tinyboot/hello:v1")
	img, err := Image(iso, "hello", "")
	if err != nil {
		t.Fatal(err)
	}
	registrytest.Push(t, ref, img)
	pulled := registrytest.Pull(t, ref)
	wd, _ := img.Digest()
	gd, _ := pulled.Digest()
	if wd != gd {
		t.Errorf("pulled digest %s, pushed %s", gd, wd)
	}
	h, got, err := ReadDisk(pulled)
	if err != nil {
		t.Fatal(err)
	}
	if h.Uid != OwnerID || h.Mode != DiskMode || !bytes.Equal(got, want) {
		t.Errorf("pulled layer: %s %d:%d %o, same bytes %v", h.Name, h.Uid, h.Gid, h.Mode, bytes.Equal(got, want))
	}
}

func TestImageRefusesBadInput(t *testing.T) {
	iso, _ := fakeISO(t, 10)
	if _, err := Image(iso, "a/b", ""); err == nil {
		t.Error("name with a slash accepted")
	}
	if _, err := Image(filepath.Join(t.TempDir(), "nope.iso"), "x", ""); err == nil || !strings.Contains(err.Error(), "nope.iso") {
		t.Errorf("missing ISO: %v", err)
	}
}
