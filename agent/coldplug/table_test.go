package coldplug

import (
	"reflect"
	"testing"

	"github.com/tinyboot/tinyboot/spec/baked"
)

// realTable is part of what the composer bakes for the example from
// Debian's 6.1.0-57-amd64 modules: real names, dependencies and aliases
// (a few of each module's, the ones that decide the cases below).
func realTable() []baked.Module {
	return []baked.Module{
		{Name: "virtio", Path: "kernel/drivers/virtio/virtio.ko"},
		{Name: "virtio_ring", Path: "kernel/drivers/virtio/virtio_ring.ko"},
		{Name: "virtio_pci", Path: "kernel/drivers/virtio/virtio_pci.ko", Needs: []string{"virtio", "virtio_ring"}, Aliases: []string{"pci:v00001AF4d*sv*sd*bc*sc*i*"}},
		{Name: "cdrom", Path: "kernel/drivers/cdrom/cdrom.ko"},
		{Name: "isofs", Path: "kernel/fs/isofs/isofs.ko", Needs: []string{"cdrom"}, Aliases: []string{"iso9660", "fs-iso9660"}},
		{Name: "scsi_common", Path: "kernel/drivers/scsi/scsi_common.ko"},
		{Name: "scsi_mod", Path: "kernel/drivers/scsi/scsi_mod.ko", Needs: []string{"scsi_common"}},
		{Name: "libata", Path: "kernel/drivers/ata/libata.ko", Needs: []string{"scsi_mod"}},
		{Name: "libahci", Path: "kernel/drivers/ata/libahci.ko", Needs: []string{"libata"}},
		{Name: "ahci", Path: "kernel/drivers/ata/ahci.ko", Needs: []string{"libahci", "libata"}, Aliases: []string{"pci:v*d*sv*sd*bc01sc06i01*", "pci:v00008086d00002922sv*sd*bc*sc*i*"}},
		{Name: "ata_piix", Path: "kernel/drivers/ata/ata_piix.ko", Needs: []string{"libata"}, Aliases: []string{"pci:v00008086d00002653sv*sd*bc01sc01i*", "pci:v00008086d00008C81sv*sd*bc*sc*i*"}},
		{Name: "sr_mod", Path: "kernel/drivers/scsi/sr_mod.ko", Needs: []string{"cdrom", "scsi_common", "scsi_mod"}, Aliases: []string{"scsi:t-0x04*", "scsi:t-0x05*", "block-major-11-*"}},
		{Name: "sd_mod", Path: "kernel/drivers/scsi/sd_mod.ko", Needs: []string{"scsi_common", "scsi_mod"}, Aliases: []string{"scsi:t-0x00*", "scsi:t-0x07*", "scsi:t-0x0e*", "scsi:t-0x14*"}},
		{Name: "virtio_blk", Path: "kernel/drivers/block/virtio_blk.ko", Needs: []string{"virtio", "virtio_ring"}, Aliases: []string{"virtio:d00000002v*"}},
		{Name: "nvme_core", Path: "kernel/drivers/nvme/host/nvme-core.ko"},
		{Name: "nvme", Path: "kernel/drivers/nvme/host/nvme.ko", Needs: []string{"nvme_core"}, Aliases: []string{"pci:v*d*sv*sd*bc01sc08i02*", "pci:v0000106Bd00002005sv*sd*bc*sc*i*"}},
		{Name: "usbcore", Path: "kernel/drivers/usb/core/usbcore.ko"},
		{Name: "xhci_hcd", Path: "kernel/drivers/usb/host/xhci-hcd.ko", Needs: []string{"usbcore"}},
		{Name: "xhci_pci", Path: "kernel/drivers/usb/host/xhci-pci.ko", Needs: []string{"usbcore", "xhci_hcd"}, Aliases: []string{"pci:v*d*sv*sd*bc0Csc03i30*"}},
		{Name: "usb_storage", Path: "kernel/drivers/usb/storage/usb-storage.ko", Needs: []string{"scsi_mod", "usbcore"}, Aliases: []string{"usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*", "usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in*"}},
		{Name: "uas", Path: "kernel/drivers/usb/storage/uas.ko", Needs: []string{"scsi_common", "scsi_mod", "usb_storage", "usbcore"}, Aliases: []string{"usb:v*p*d*dc*dsc*dp*ic08isc06ip62in*", "usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*"}},
		{Name: "button", Path: "kernel/drivers/acpi/button.ko", Aliases: []string{"acpi*:LNXPWRBN:*", "acpi*:PNP0C0C:*"}},
		{Name: "crc32c_intel", Path: "kernel/arch/x86/crypto/crc32c-intel.ko", Aliases: []string{"crypto-crc32c", "crc32c", "cpu:type:x86,ven*fam*mod*:feature:*0094*"}},
		{Name: "btrfs", Path: "kernel/fs/btrfs/btrfs.ko", Needs: []string{"crc32c_intel"}, Aliases: []string{"devname:btrfs-control", "char-major-10-234", "fs-btrfs"}},
		{Name: "e1000e", Path: "kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko", Aliases: []string{"pci:v00008086d000010D3sv*sd*bc*sc*i*", "pci:v00008086d00005511sv*sd*bc*sc*i*"}},
		{Name: "dm_mod", Path: "kernel/drivers/md/dm-mod.ko", Always: true, Aliases: []string{"devname:mapper/control"}},
	}
}

func TestLookup(t *testing.T) {
	table := NewTable(realTable())
	tests := []struct {
		request string
		want    []string
	}{
		{"pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00", []string{"e1000e"}},
		{"pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", []string{"ahci"}},
		{"pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02", []string{"nvme"}},
		{"pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30", []string{"xhci_pci"}},
		{"pci:v00001AF4d00001005sv00001AF4sd00000004bc00scFFi00", []string{"virtio_pci"}},
		{"pci:v00008086d000029C0sv00001AF4sd00001100bc06sc00i00", nil}, // q35 host bridge
		{"virtio:d00000002v00001AF4", []string{"virtio_blk"}},
		{"virtio:d00000004v00001AF4", nil}, // virtio-rng, built in
		{"usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00", []string{"uas", "usb_storage"}},
		{"scsi:t-0x05", []string{"sr_mod"}},
		{"scsi:t-0x00", []string{"sd_mod"}},
		{"acpi:LNXPWRBN:", []string{"button"}},
		{"acpi:PNP0A03:", nil},
		{"cpu:type:x86,ven0000fam0006mod003F:feature:,0000,0001,0094,00E5", []string{"crc32c_intel"}},
		{"fs-iso9660", []string{"isofs"}},
		{"fs-btrfs", []string{"btrfs"}},
		{"crypto-crc32c", []string{"crc32c_intel"}},
		{"usb-storage", []string{"usb_storage"}}, // a module name, '-' for '_'
		{"fs-ext4", nil},
	}
	for _, tt := range tests {
		if got := table.Lookup(tt.request); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Lookup(%q) = %q, want %q", tt.request, got, tt.want)
		}
	}
	if got, want := table.AtBoot(), []string{"dm_mod"}; !reflect.DeepEqual(got, want) {
		t.Errorf("AtBoot() = %q, want %q", got, want)
	}
	if got := table.Aliases(); got != 33 {
		t.Errorf("Aliases() = %d, want 33", got)
	}
}

// A table baked before aliases existed loads everything at boot.
func TestAtBootWithoutAliases(t *testing.T) {
	table := NewTable([]baked.Module{{Name: "a"}, {Name: "b", Needs: []string{"a"}}, {Name: "c"}})
	if got, want := table.AtBoot(), []string{"b", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("AtBoot() = %q, want %q", got, want)
	}
}
