package kmod

import (
	"errors"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	tree := []mod{
		// A chain and a diamond: d depends on b and c, both on a.
		{name: "a"},
		{name: "b", depends: "a"},
		{name: "c", depends: "a"},
		{name: "d", depends: "c,b"},
		// Hyphenated names in depends= and requests.
		{name: "virtio_pci_modern_dev"},
		{name: "virtio_pci", depends: "virtio-pci-modern-dev,virtio_ring", aliases: []string{"pci:v00001AF4d*sv*sd*bc*sc*i*"}},
		{name: "virtio_ring"},
		{name: "virtio_net", depends: "virtio_ring", aliases: []string{"virtio:d00000001v*"}},
		// Softdeps: pre targets by name and alias; missing ones ignored;
		// post not followed.
		{name: "crc32c_generic", aliases: []string{"crypto-crc32c", "crc32c"}},
		{name: "crc32c_intel", aliases: []string{"crypto-crc32c"}},
		{name: "libcrc32c", softdep: "pre: crc32c"},
		{name: "btrfs", depends: "libcrc32c,zstd_compress", softdep: "pre: crypto-crc32c no-such-thing post: xxhash_generic", aliases: []string{"fs-btrfs", "devname:btrfs-control"}},
		{name: "zstd_compress"},
		{name: "xxhash_generic"},
		// Depending on a built-in module.
		{name: "ext4", depends: "mbcache,jbd2", aliases: []string{"fs-ext4"}},
		{name: "jbd2"},
		// A softdep cycle is tolerated.
		{name: "s1", softdep: "pre: s2"},
		{name: "s2", softdep: "pre: s1"},
	}
	tests := []struct {
		name string
		req  []string
		want string
	}{
		{"chain", []string{"b"}, "a b"},
		{"diamond", []string{"d"}, "a b c d"},
		{"request order kept", []string{"c", "b", "a"}, "a c b"},
		{"duplicates", []string{"d", "d", "b"}, "a b c d"},
		{"dash underscore", []string{"virtio-pci"}, "virtio_pci_modern_dev virtio_ring virtio_pci"},
		{"alias literal", []string{"fs-btrfs"}, "crc32c_generic crc32c_intel libcrc32c zstd_compress btrfs"},
		{"alias with dash normalised", []string{"fs_ext4"}, "jbd2 ext4"},
		{"alias glob", []string{"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"}, "virtio_pci_modern_dev virtio_ring virtio_pci"},
		{"builtin request skipped", []string{"mbcache", "a"}, "a"},
		{"builtin dependency skipped", []string{"ext4"}, "jbd2 ext4"},
		{"softdep cycle", []string{"s1"}, "s2 s1"},
		{"empty", nil, ""},
	}
	x, err := buildIndex(tree, "mbcache")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mods, err := x.Resolve(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range mods {
				names = append(names, m.Name)
				if m.Info == nil || m.Path != "kernel/drivers/"+strings.ReplaceAll(m.Name, "_", "-")+".ko" {
					t.Errorf("module %s: path %q, info %v", m.Name, m.Path, m.Info)
				}
			}
			if got := strings.Join(names, " "); got != tt.want {
				t.Fatalf("order = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	tree := []mod{
		{name: "virtio_net"},
		{name: "virtio_blk"},
		{name: "needs_ghost", depends: "ghost"},
		{name: "x", depends: "y"},
		{name: "y", depends: "z"},
		{name: "z", depends: "x"},
		{name: "selfish", depends: "selfish"},
	}
	x, err := buildIndex(tree)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  []string
		want []string // substrings of the joined error, in order
	}{
		{"unknown with suggestion", []string{"virtio_nett"}, []string{`unknown kernel module "virtio_nett" (did you mean virtio_net?)`}},
		{"unknown without suggestion", []string{"nvidia"}, []string{`unknown kernel module "nvidia"` + "\n"}},
		{"missing dependency", []string{"needs_ghost"}, []string{"kernel module needs_ghost depends on ghost, which is neither in the module tree nor built in"}},
		{"cycle", []string{"x"}, []string{"kernel module dependency cycle: x -> y -> z -> x"}},
		{"self cycle", []string{"selfish"}, []string{"cycle: selfish -> selfish"}},
		{"all errors joined", []string{"virtio-nett", "needs_ghost", "nvidia", "y"}, []string{
			`unknown kernel module "virtio-nett" (did you mean virtio_net?)`,
			"needs_ghost depends on ghost",
			`unknown kernel module "nvidia"`,
			"cycle: y -> z -> x -> y",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mods, err := x.Resolve(tt.req)
			if err == nil {
				t.Fatalf("no error, modules %v", mods)
			}
			if mods != nil {
				t.Errorf("modules returned with an error: %v", mods)
			}
			msg := err.Error() + "\n"
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q lacks %q (in order)", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}

	_, err = x.Resolve([]string{"virtio_blkk", "needs-ghost"})
	var unknown *UnknownModuleError
	var missing *MissingDependencyError
	if !errors.As(err, &unknown) || unknown.Name != "virtio_blkk" || strings.Join(unknown.Suggestions, ",") != "virtio_blk" {
		t.Errorf("UnknownModuleError = %+v", unknown)
	}
	if !errors.As(err, &missing) || missing.Module != "needs_ghost" || missing.Dependency != "ghost" {
		t.Errorf("MissingDependencyError = %+v", missing)
	}
	_, err = x.Resolve([]string{"z"})
	var cycle *CycleError
	if !errors.As(err, &cycle) || strings.Join(cycle.Cycle, " ") != "z x y z" {
		t.Errorf("CycleError = %+v", cycle)
	}
}

func TestSuggestions(t *testing.T) {
	x, err := buildIndex([]mod{{name: "sd_mod"}, {name: "sr_mod"}, {name: "st"}, {name: "sg"}, {name: "nvme"}}, "sa_mod")
	if err != nil {
		t.Fatal(err)
	}
	got := (&UnknownModuleError{Name: "sx_mod", Suggestions: x.suggest("sx-mod")}).Error()
	if want := `unknown kernel module "sx_mod" (did you mean sa_mod, sd_mod or sr_mod?)`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestIndexAdd(t *testing.T) {
	x := NewIndex()
	if err := x.Add("kernel/a.ko", &Info{}); err != nil {
		t.Fatal(err)
	}
	if m, ok := x.Module("a"); !ok || m.Path != "kernel/a.ko" {
		t.Fatalf("name from path: %v %v", m, ok)
	}
	if err := x.Add("updates/a.ko.xz", &Info{Name: "a"}); err == nil || !strings.Contains(err.Error(), "both kernel/a.ko and updates/a.ko.xz") {
		t.Fatalf("duplicate: err = %v", err)
	}
	if err := x.Add("kernel/b.ko", nil); err == nil {
		t.Fatal("nil info accepted")
	}
	x.AddBuiltin(&Info{Name: "crc32c_generic", Aliases: []string{"crypto-crc32c"}})
	mods, err := x.Resolve([]string{"crypto-crc32c", "crc32c-generic", "a"})
	if err != nil || len(mods) != 1 || mods[0].Name != "a" || !x.IsBuiltin("crc32c-generic") || x.Len() != 1 {
		t.Fatalf("builtin aliases: %v, %v", mods, err)
	}
}
