package kmod

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/compose/deb"
	"github.com/tinyboot/tinyboot/internal/realkernel"
)

// TestRealKernel streams the Debian kernel package, indexes every module
// and resolves the set a tinyboot VM typically asks for.
func TestRealKernel(t *testing.T) {
	kpkg := realkernel.Find(t)
	f, err := os.Open(kpkg.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pkg, err := deb.Open(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	tr, closer, err := pkg.Data()
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	// The package's own module tree, named after the release it installs.
	prefix := "./lib/modules/" + kpkg.Release() + "/"
	x := NewIndex()
	var builtinNames []string
	var builtinInfo []*Info
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rel, ok := strings.CutPrefix(hdr.Name, prefix)
		if !ok {
			continue
		}
		switch {
		case strings.Contains(rel, ".ko"):
			ko, err := Decompress(rel, tr)
			if err != nil {
				t.Fatal(err)
			}
			info, err := ParseModinfo(ko)
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			if err := x.Add(rel, info); err != nil {
				t.Fatal(err)
			}
		case rel == "modules.builtin":
			if builtinNames, err = ParseBuiltin(tr); err != nil {
				t.Fatal(err)
			}
		case rel == "modules.builtin.modinfo":
			if builtinInfo, err = ParseBuiltinModinfo(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	x.MarkBuiltin(builtinNames)
	for _, info := range builtinInfo {
		x.AddBuiltin(info)
	}
	indexed := time.Since(start)
	if x.Len() == 0 || len(builtinNames) == 0 {
		t.Fatalf("%s: no modules (%d) or built-ins (%d) under %s", kpkg.Path, x.Len(), len(builtinNames), prefix)
	}

	req := []string{"isofs", "ahci", "ata_piix", "sr_mod", "virtio_scsi", "virtio_blk", "sd_mod", "nvme", "btrfs", "ext4", "virtio_pci", "virtio_net", "e1000", "e1000e", "button"}
	start = time.Now()
	mods, err := x.Resolve(req)
	if err != nil {
		t.Fatal(err)
	}
	resolved := time.Since(start)
	var names []string
	pos := map[string]int{}
	for i, m := range mods {
		names = append(names, m.Name)
		pos[m.Name] = i
	}
	t.Logf("indexed %d modules and %d built-ins in %v; resolved %d modules in %v:\n%s",
		x.Len(), len(builtinNames), indexed, len(mods), resolved, strings.Join(names, " "))

	// Every module comes after its dependencies.
	for i, m := range mods {
		for _, d := range m.Info.Depends {
			if j, ok := pos[d]; ok && j > i {
				t.Errorf("%s loads before its dependency %s", m.Name, d)
			} else if !ok && !x.IsBuiltin(d) {
				t.Errorf("%s's dependency %s is missing", m.Name, d)
			}
		}
	}
	for _, want := range []string{"virtio_pci_legacy_dev", "virtio_pci_modern_dev", "libcrc32c", "crc32c_generic", "nvme_core", "libata", "scsi_mod", "mbcache", "jbd2"} {
		if _, ok := pos[want]; !ok {
			t.Errorf("%s not in the load order", want)
		}
	}
	// zswap is built into Debian's kernel: requesting it adds nothing.
	if mods, err := x.Resolve([]string{"zswap", "isofs"}); err != nil || len(mods) != 2 || !x.IsBuiltin("zswap") {
		t.Errorf("built-in zswap: %v, %v", mods, err)
	}

	_, err = x.Resolve([]string{"virtio_nett"})
	if err == nil || err.Error() != `unknown kernel module "virtio_nett" (did you mean virtio_net?)` {
		t.Errorf("typo: %v", err)
	}
	if mods, err := x.Resolve([]string{"fs-btrfs"}); err != nil || mods[len(mods)-1].Name != "btrfs" {
		t.Errorf("alias fs-btrfs: %v", err)
	}
}
