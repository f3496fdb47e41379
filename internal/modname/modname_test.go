package modname

import "testing"

func TestNormalize(t *testing.T) {
	tests := []struct{ in, name, alias string }{
		{"usb-storage", "usb_storage", "usb_storage"},
		{"fs-iso9660", "fs_iso9660", "fs_iso9660"},
		{"xhci_pci", "xhci_pci", "xhci_pci"},
		// A range inside brackets keeps its '-'; outside it is '_'.
		{"usb:v13FDp3940d0[0-2]*dc*", "usb:v13FDp3940d0[0_2]*dc*", "usb:v13FDp3940d0[0-2]*dc*"},
		{"scsi:t-0x05*", "scsi:t_0x05*", "scsi:t_0x05*"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.name {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.name)
		}
		if got := NormalizeAlias(tt.in); got != tt.alias {
			t.Errorf("NormalizeAlias(%q) = %q, want %q", tt.in, got, tt.alias)
		}
	}
}
