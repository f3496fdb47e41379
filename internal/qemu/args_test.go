package qemu

import (
	"reflect"
	"strings"
	"testing"
)

var testFW = Firmware{Code: "/fw/CODE.fd", Vars: "/fw/VARS.fd"}

func TestBuildArgs(t *testing.T) {
	common := func(accel ...string) []string {
		return append(append([]string{"qemu-system-x86_64", "-machine", "q35"}, accel...),
			"-m", "512M", "-smp", "1", "-nodefaults", "-no-user-config",
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd")
	}
	tail := []string{"-device", "virtio-rng-pci", "-device", "pvpanic", "-display", "none"}
	join := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	snapVars := []string{"-drive", "if=pflash,format=raw,unit=1,snapshot=on,file=/fw/VARS.fd"}
	nic := []string{"-nic", "user,model=virtio-net-pci"}
	tcg := []string{"-accel", "tcg"}

	tests := []struct {
		name string
		cfg  Config
		inst Instance
		want []string
	}{
		{
			name: "printed command, no image, auto accel",
			cfg:  Config{Firmware: testFW},
			inst: Instance{Interactive: true},
			want: join(common("-accel", "kvm", "-accel", "tcg"), snapVars, nic, tail,
				[]string{"-serial", "mon:stdio"}),
		},
		{
			name: "cdrom with publish, disks, qmp and no-reboot",
			cfg: Config{Firmware: testFW, Image: "a.iso", Accel: AccelTCG, NoReboot: true,
				Disks:   []string{"data.img", "odd,name.img"},
				Publish: []PortForward{{8080, 80}, {2222, 22}}},
			inst: Instance{Vars: "/tmp/vm/VARS.fd", QMPSocket: "/tmp/vm/qmp.sock"},
			want: join(common(tcg...),
				[]string{"-drive", "if=pflash,format=raw,unit=1,file=/tmp/vm/VARS.fd",
					"-drive", "if=none,id=boot,format=raw,readonly=on,file=a.iso,media=cdrom",
					"-device", "ide-cd,drive=boot,bus=ide.1,bootindex=0",
					"-drive", "if=virtio,format=raw,file=data.img",
					"-drive", "if=virtio,format=raw,file=odd,,name.img",
					"-nic", "user,model=virtio-net-pci,hostfwd=tcp::8080-:80,hostfwd=tcp::2222-:22"},
				tail,
				[]string{"-serial", "stdio", "-qmp", "unix:/tmp/vm/qmp.sock", "-no-reboot"}),
		},
		{
			name: "usb, kvm, no network, memory and cpus",
			cfg: Config{Firmware: testFW, Image: "a.img", Medium: MediumUSB, Accel: AccelKVM,
				Memory: "2G", CPUs: 2, NoNetwork: true, ExtraArgs: []string{"-S"}},
			want: append(join(
				[]string{"qemu-system-x86_64", "-machine", "q35", "-accel", "kvm", "-cpu", "host",
					"-m", "2G", "-smp", "2", "-nodefaults", "-no-user-config",
					"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd"},
				snapVars,
				[]string{"-device", "qemu-xhci,id=xhci",
					"-drive", "if=none,id=boot,format=raw,readonly=on,file=a.img",
					"-device", "usb-storage,bus=xhci.0,drive=boot,bootindex=0",
					"-nic", "none"},
				tail, []string{"-serial", "stdio"}), "-S"),
		},
		{
			name: "raw virtio, own binary",
			cfg:  Config{QEMU: "/opt/q/bin/qemu", Firmware: testFW, Image: "a.img", Medium: MediumRaw, Accel: AccelTCG},
			want: join(
				[]string{"/opt/q/bin/qemu", "-machine", "q35", "-accel", "tcg",
					"-m", "512M", "-smp", "1", "-nodefaults", "-no-user-config",
					"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd"},
				snapVars,
				[]string{"-drive", "if=none,id=boot,format=raw,readonly=on,file=a.img",
					"-device", "virtio-blk-pci,drive=boot,bootindex=0"},
				nic, tail, []string{"-serial", "stdio"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BuildArgs(tt.cfg, tt.inst)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("BuildArgs:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestBuildArgsErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no firmware", Config{}, "firmware"},
		{"bad medium", Config{Firmware: testFW, Medium: "floppy"}, "boot medium"},
		{"bad memory", Config{Firmware: testFW, Memory: "lots"}, "memory"},
		{"zero memory", Config{Firmware: testFW, Memory: "0M"}, "memory"},
		{"negative cpus", Config{Firmware: testFW, CPUs: -1}, "cpus"},
		{"bad accel", Config{Firmware: testFW, Accel: "xen"}, "accelerator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BuildArgs(tt.cfg, Instance{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParsePortForward(t *testing.T) {
	tests := []struct {
		in      string
		want    PortForward
		wantErr bool
	}{
		{"8080:80", PortForward{8080, 80}, false},
		{"65535:1", PortForward{65535, 1}, false},
		{"80", PortForward{}, true},
		{"0:80", PortForward{}, true},
		{"8080:65536", PortForward{}, true},
		{"a:b", PortForward{}, true},
		{":80", PortForward{}, true},
	}
	for _, tt := range tests {
		got, err := ParsePortForward(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParsePortForward(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func TestShellQuote(t *testing.T) {
	got := ShellQuote([]string{"qemu", "-drive", "file=/a b/c.fd", "it's", "", "hostfwd=tcp::1-:2"})
	want := `qemu -drive 'file=/a b/c.fd' 'it'\''s' '' hostfwd=tcp::1-:2`
	if got != want {
		t.Errorf("ShellQuote = %s\nwant        %s", got, want)
	}
}
