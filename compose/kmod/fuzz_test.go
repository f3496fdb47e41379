package kmod

import (
	"github.com/tinyboot/tinyboot/internal/elftest"

	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func fuzzSeeds() map[string][]byte {
	return map[string][]byte{
		"virtio_pci": buildKO("license=GPL", "alias=pci:v00001AF4d*sv*sd*bc*sc*i*", "depends=virtio_ring,virtio", "name=virtio_pci", "vermagic=6.1.0 SMP "),
		"btrfs":      buildKO("softdep=pre: crc32c", "softdep=post: x pre: y", "alias=fs-btrfs", "depends=", "name=btrfs"),
		"no_modinfo": elftest.Rel(".text", []byte{0xc3}),
	}
}

func FuzzParseModinfo(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParseModinfo(b)
		if err != nil {
			return
		}
		// Whatever parsed must be usable for resolution.
		x := NewIndex()
		if err := x.Add("kernel/fuzz.ko", info); err != nil {
			return
		}
		x.Resolve([]string{"fuzz", info.Name})
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpus when
// TBK_WRITE_FUZZ_SEEDS=1 is set.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("TBK_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set TBK_WRITE_FUZZ_SEEDS=1 to regenerate testdata/fuzz/FuzzParseModinfo")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseModinfo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range fuzzSeeds() {
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
