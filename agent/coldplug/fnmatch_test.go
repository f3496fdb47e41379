package coldplug

import "testing"

// The patterns are alias= entries of Debian's 6.1.0-57-amd64 modules and
// the strings modaliases QEMU's q35 devices show in sysfs.
func TestMatch(t *testing.T) {
	const cpu = "cpu:type:x86,ven0000fam0006mod003F:feature:,0000,0001,0002,0003,0004,0005,0006,0007,0008,0009,000B,000C,000D,000F,0010,0011,0013,0017,0018,0019,0081,0094,0097,00E5"
	tests := []struct {
		name, pattern, s string
		want             bool
	}{
		{"e1000e by id", "pci:v00008086d000010D3sv*sd*bc*sc*i*", "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00", true},
		{"e1000e other id", "pci:v00008086d00005511sv*sd*bc*sc*i*", "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00", false},
		{"ahci ich9 by id", "pci:v00008086d00002922sv*sd*bc*sc*i*", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", true},
		{"ahci by class", "pci:v*d*sv*sd*bc01sc06i01*", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", true},
		{"nvme class, ahci device", "pci:v*d*sv*sd*bc01sc08i02*", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", false},
		{"nvme class, qemu nvme", "pci:v*d*sv*sd*bc01sc08i02*", "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02", true},
		{"xhci class", "pci:v*d*sv*sd*bc0Csc03i30*", "pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30", true},
		{"xhci class, ehci device", "pci:v*d*sv*sd*bc0Csc03i30*", "pci:v00008086d000024CDsv00001AF4sd00001100bc0Csc03i20", false},
		{"piix ide by class", "pci:v00008086d00002653sv*sd*bc01sc01i*", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", false},
		{"virtio-pci vendor", "pci:v00001AF4d*sv*sd*bc*sc*i*", "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00", true},
		{"virtio_blk", "virtio:d00000002v*", "virtio:d00000002v00001AF4", true},
		{"virtio_net, a disk", "virtio:d00000001v*", "virtio:d00000002v00001AF4", false},
		{"acpi power button", "acpi*:LNXPWRBN:*", "acpi:LNXPWRBN:", true},
		{"acpi button, other id", "acpi*:PNP0C0C:*", "acpi:LNXPWRBN:", false},
		{"acpi button in a cid list", "acpi*:PNP0C0C:*", "acpi:QEMU0001:PNP0C0C:", true},
		{"usb-storage bulk-only", "usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*", "usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00", true},
		{"uas protocol, bulk-only stick", "usb:v*p*d*dc*dsc*dp*ic08isc06ip62in*", "usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00", false},
		{"usb release range in", "usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in*", "usb:v13FDp3940d0100dc00dsc00dp00ic08isc06ip50in00", true},
		{"usb release range out", "usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in*", "usb:v13FDp3940d0300dc00dsc00dp00ic08isc06ip50in00", false},
		{"usb exact release", "usb:v1645p0007d013[0-3]dc*dsc*dp*ic*isc*ip*in*", "usb:v1645p0007d0132dc00dsc00dp00ic08isc06ip50in00", true},
		{"scsi cd", "scsi:t-0x05*", "scsi:t-0x05", true},
		{"scsi disk, a cd", "scsi:t-0x00*", "scsi:t-0x05", false},
		{"cpu feature present (sse4.2 for crc32c-intel)", "cpu:type:x86,ven*fam*mod*:feature:*0094*", cpu, true},
		{"cpu feature absent (aes)", "cpu:type:x86,ven*fam*mod*:feature:*0099*", cpu, false},
		{"literal name", "fs-iso9660", "fs-iso9660", true},
		{"literal, prefix only", "fs-iso9660", "fs-iso966", false},
		{"star matches slash (no FNM_PATHNAME)", "a*c", "a/b/c", true},
		{"question mark", "scsi:t-0x0?", "scsi:t-0x0e", true},
		{"negated set", "x[!0-4]", "x5", true},
		{"negated set, in range", "x[!0-4]", "x3", false},
		{"escaped star", `a\*`, "a*", true},
		{"escaped star is literal", `a\*`, "ab", false},
		{"unclosed bracket is literal", "a[b", "a[b", true},
		{"empty pattern", "", "", true},
		{"empty pattern, text", "", "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Match(tt.pattern, tt.s); got != tt.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
			}
		})
	}
}
