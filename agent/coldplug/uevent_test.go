package coldplug

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseUevent(t *testing.T) {
	msg := func(parts ...string) []byte { return []byte(strings.Join(parts, "\x00") + "\x00") }
	tests := []struct {
		name    string
		in      []byte
		want    Uevent
		wantErr bool
	}{
		{
			name: "hot-added virtio disk",
			in: msg("add@/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/virtio3", "ACTION=add",
				"DEVPATH=/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/virtio3", "SUBSYSTEM=virtio",
				"MODALIAS=virtio:d00000002v00001AF4", "SEQNUM=1234"),
			want: Uevent{Action: "add", DevPath: "/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/virtio3", Subsystem: "virtio",
				Modalias: "virtio:d00000002v00001AF4", Env: map[string]string{
					"ACTION": "add", "DEVPATH": "/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/virtio3",
					"SUBSYSTEM": "virtio", "MODALIAS": "virtio:d00000002v00001AF4", "SEQNUM": "1234"}},
		},
		{
			name: "usb interface",
			in: msg("add@/devices/pci0000:00/0000:00:02.0/usb1/1-1/1-1:1.0", "ACTION=add", "SUBSYSTEM=usb",
				"DEVTYPE=usb_interface", "PRODUCT=46f4/1/0", "INTERFACE=8/6/80",
				"MODALIAS=usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00"),
			want: Uevent{Action: "add", DevPath: "/devices/pci0000:00/0000:00:02.0/usb1/1-1/1-1:1.0", Subsystem: "usb",
				Modalias: "usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00", Env: map[string]string{
					"ACTION": "add", "SUBSYSTEM": "usb", "DEVTYPE": "usb_interface", "PRODUCT": "46f4/1/0",
					"INTERFACE": "8/6/80", "MODALIAS": "usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00"}},
		},
		{
			name: "block device without modalias, value with '='",
			in:   msg("add@/devices/virtual/block/loop0", "ACTION=add", "SUBSYSTEM=block", "DEVNAME=loop0", "X=a=b"),
			want: Uevent{Action: "add", DevPath: "/devices/virtual/block/loop0", Subsystem: "block",
				Env: map[string]string{"ACTION": "add", "SUBSYSTEM": "block", "DEVNAME": "loop0", "X": "a=b"}},
		},
		{name: "udev's own message", in: msg("libudev", "\xfe\xed\xca\xfe"), wantErr: true},
		{name: "empty", in: nil, wantErr: true},
		{name: "header and ACTION disagree", in: msg("add@/devices/x", "ACTION=remove"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseUevent(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	u, _ := ParseUevent(msg("add@/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/virtio3", "ACTION=add"))
	if u.Device() != "virtio3" {
		t.Errorf("Device() = %q, want virtio3", u.Device())
	}
}

func TestScan(t *testing.T) {
	root := t.TempDir()
	// sysfs keeps devices under /sys/devices and links them from their
	// bus; Scan reads through the links.
	dev := func(rel, alias string) {
		p := filepath.Join(root, "devices", rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if alias != "" {
			if err := os.WriteFile(filepath.Join(p, "modalias"), []byte(alias+"\n"), 0o444); err != nil {
				t.Fatal(err)
			}
		}
	}
	link := func(bus, rel string) {
		d := filepath.Join(root, "bus", bus, "devices")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(root, "devices", rel), filepath.Join(d, filepath.Base(rel))); err != nil {
			t.Fatal(err)
		}
	}
	dev("pci0000:00/0000:00:02.0", "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00")
	link("pci", "pci0000:00/0000:00:02.0")
	dev("pci0000:00/0000:00:03.0/virtio0", "virtio:d00000002v00001AF4")
	link("virtio", "pci0000:00/0000:00:03.0/virtio0")
	dev("LNXSYSTM:00/LNXPWRBN:00", "acpi:LNXPWRBN:")
	link("acpi", "LNXSYSTM:00/LNXPWRBN:00")
	dev("platform/serial8250", "") // no modalias file
	link("platform", "platform/serial8250")
	dev("system/cpu", "cpu:type:x86,ven0000fam0006mod003F:feature:,0000,0094")

	got, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []Device{
		{Name: "LNXPWRBN:00", Modalias: "acpi:LNXPWRBN:"},
		{Name: "cpu", Modalias: "cpu:type:x86,ven0000fam0006mod003F:feature:,0000,0094"},
		{Name: "0000:00:02.0", Modalias: "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00"},
		{Name: "virtio0", Modalias: "virtio:d00000002v00001AF4"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Scan = %+v\nwant %+v", got, want)
	}
	if _, err := Scan(filepath.Join(root, "missing")); err == nil {
		t.Error("Scan of a missing sysfs: no error")
	}
}
