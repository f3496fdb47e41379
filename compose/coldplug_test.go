package compose

import (
	"reflect"
	"testing"

	"github.com/tinyboot/tinyboot/compose/kmod"
	"github.com/tinyboot/tinyboot/compose/plan"
)

func TestColdplugTable(t *testing.T) {
	idx := kmod.NewIndex()
	for _, m := range []struct {
		path string
		info kmod.Info
	}{
		{"kernel/drivers/md/dm-mod.ko.xz", kmod.Info{Name: "dm_mod", Aliases: []string{"devname:mapper/control"}}},
		{"kernel/drivers/md/dm-crypt.ko.xz", kmod.Info{Name: "dm_crypt", Depends: []string{"dm-mod"}}},
		{"kernel/drivers/scsi/scsi_mod.ko.xz", kmod.Info{Name: "scsi_mod"}},
		{"kernel/drivers/scsi/sr_mod.ko.xz", kmod.Info{Name: "sr_mod", Depends: []string{"scsi_mod"}, Aliases: []string{"scsi:t-0x05*"}}},
		// A softdep pre: loop (allowed) must not become a cycle at boot.
		{"kernel/a.ko", kmod.Info{Name: "a", SoftdepPre: []string{"b"}}},
		{"kernel/b.ko", kmod.Info{Name: "b", SoftdepPre: []string{"a"}}},
	} {
		info := m.info
		if err := idx.Add(m.path, &info); err != nil {
			t.Fatal(err)
		}
	}
	order, err := idx.Resolve([]string{"sr_mod", "dm_crypt", "a"})
	if err != nil {
		t.Fatal(err)
	}
	got := coldplugTable(idx, order, []string{"dm-crypt"})
	want := []plan.Module{
		{Name: "scsi_mod", Path: "kernel/drivers/scsi/scsi_mod.ko", Source: "kernel/drivers/scsi/scsi_mod.ko.xz"},
		{Name: "sr_mod", Path: "kernel/drivers/scsi/sr_mod.ko", Source: "kernel/drivers/scsi/sr_mod.ko.xz", Aliases: []string{"scsi:t-0x05*"}, Needs: []string{"scsi_mod"}},
		{Name: "dm_mod", Path: "kernel/drivers/md/dm-mod.ko", Source: "kernel/drivers/md/dm-mod.ko.xz", Aliases: []string{"devname:mapper/control"}, Always: true},
		{Name: "dm_crypt", Path: "kernel/drivers/md/dm-crypt.ko", Source: "kernel/drivers/md/dm-crypt.ko.xz", Needs: []string{"dm_mod"}, Always: true},
		{Name: "b", Path: "kernel/b.ko", Source: "kernel/b.ko"},
		{Name: "a", Path: "kernel/a.ko", Source: "kernel/a.ko", Needs: []string{"b"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("coldplugTable =\n%+v\nwant\n%+v", got, want)
	}
	baked := bakedModules(got)
	if baked[3].Name != "dm_crypt" || !baked[3].Always || !reflect.DeepEqual(baked[3].Needs, []string{"dm_mod"}) || !reflect.DeepEqual(baked[1].Aliases, []string{"scsi:t-0x05*"}) {
		t.Errorf("bakedModules lost fields: %+v", baked)
	}
}
