package qemu

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

var testFW = Firmware{Code: "/fw/CODE.fd", Vars: "/fw/VARS.fd"}

func TestBuildArgs(t *testing.T) {
	defer func(f func() int) { hostTSCkHz = f }(hostTSCkHz)
	hostTSCkHz = func() int { return 2445402 }
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
				Publish: []PortForward{{Host: 8080, Guest: 80}, {Host: 1053, Guest: 53, Proto: UDP, Addr: netip.MustParseAddr("0.0.0.0")}}},
			inst: Instance{Vars: "/tmp/vm/VARS.fd", QMPSocket: "/tmp/vm/qmp.sock"},
			want: join(common(tcg...),
				[]string{"-drive", "if=pflash,format=raw,unit=1,file=/tmp/vm/VARS.fd",
					"-drive", "if=none,id=boot,format=raw,readonly=on,file=a.iso,media=cdrom",
					"-device", "ide-cd,drive=boot,bus=ide.1,bootindex=0",
					"-drive", "if=virtio,format=raw,file=data.img",
					"-drive", "if=virtio,format=raw,file=odd,,name.img",
					"-nic", "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0.0.0:1053-:53"},
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
		{
			name: "q35 kernel, firmware none by default",
			cfg: Config{Kernel: "k/vmlinuz", Initrd: "k/initrd.img", Append: "console=ttyS0 panic=-1",
				Accel: AccelTCG, Disks: []string{"data.img"}},
			want: join(
				[]string{"qemu-system-x86_64", "-machine", "q35", "-accel", "tcg",
					"-m", "512M", "-smp", "1", "-nodefaults", "-no-user-config",
					"-kernel", "k/vmlinuz", "-initrd", "k/initrd.img", "-append", "console=ttyS0 panic=-1",
					"-drive", "if=virtio,format=raw,file=data.img"},
				nic, tail, []string{"-serial", "stdio"}),
		},
		{
			name: "q35 kernel under OVMF",
			cfg:  Config{Kernel: "vmlinuz", FirmwareKind: FirmwareUEFI, Firmware: testFW, Accel: AccelTCG, NoNetwork: true},
			want: join(common(tcg...), snapVars,
				[]string{"-kernel", "vmlinuz", "-nic", "none"}, tail, []string{"-serial", "stdio"}),
		},
		{
			name: "bios: no pflash, whatever Firmware says",
			cfg:  Config{FirmwareKind: FirmwareBIOS, Firmware: testFW, Image: "a.iso", Accel: AccelTCG, NoNetwork: true},
			want: join(
				[]string{"qemu-system-x86_64", "-machine", "q35", "-accel", "tcg",
					"-m", "512M", "-smp", "1", "-nodefaults", "-no-user-config",
					"-drive", "if=none,id=boot,format=raw,readonly=on,file=a.iso,media=cdrom",
					"-device", "ide-cd,drive=boot,bus=ide.1,bootindex=0", "-nic", "none"},
				tail, []string{"-serial", "stdio"}),
		},
		{
			name: "microvm: virtio-mmio disk, NIC and rng",
			cfg: Config{Machine: MachineMicroVM, Kernel: "vmlinuz", Initrd: "initrd.img", Append: "console=ttyS0", Accel: AccelTCG,
				Disks: []string{"a.img", "b.img"}, Publish: []PortForward{{Host: 8080, Guest: 80}}},
			want: []string{"qemu-system-x86_64", "-machine", "microvm", "-accel", "tcg",
				"-m", "512M", "-smp", "1", "-nodefaults", "-no-user-config",
				"-kernel", "vmlinuz", "-initrd", "initrd.img", "-append", "console=ttyS0 reboot=t tsc_early_khz=2445402",
				"-drive", "if=none,id=disk0,format=raw,file=a.img", "-device", "virtio-blk-device,drive=disk0",
				"-drive", "if=none,id=disk1,format=raw,file=b.img", "-device", "virtio-blk-device,drive=disk1",
				"-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80", "-device", "virtio-net-device,netdev=net0",
				"-device", "virtio-rng-device", "-device", "pvpanic", "-device", "i8042", "-display", "none", "-serial", "stdio"},
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
		{"bad machine", Config{Firmware: testFW, Machine: "pc"}, "want q35, microvm or virt"},
		{"bad firmware kind", Config{FirmwareKind: "coreboot"}, "want uefi, bios or none"},
		{"none without kernel", Config{FirmwareKind: FirmwareNone, Image: "a.iso"}, "firmware none boots a kernel"},
		{"kernel and image", Config{Kernel: "vmlinuz", Image: "a.iso"}, "not both"},
		{"initrd without kernel", Config{Firmware: testFW, Initrd: "initrd.img"}, "needs a kernel"},
		{"microvm image", Config{Machine: MachineMicroVM, FirmwareKind: FirmwareBIOS, Image: "a.iso"}, "microvm boots only a kernel"},
		{"microvm uefi", Config{Machine: MachineMicroVM, Kernel: "vmlinuz", FirmwareKind: FirmwareUEFI, Firmware: testFW}, "no UEFI firmware"},
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
	any4 := netip.MustParseAddr("0.0.0.0")
	tests := []struct {
		in      string
		want    PortForward
		str     string // String(); in when empty
		wantErr string
	}{
		{in: "8080:80", want: PortForward{Host: 8080, Guest: 80}},
		{in: "65535:1", want: PortForward{Host: 65535, Guest: 1}},
		{in: "1053:53/udp", want: PortForward{Host: 1053, Guest: 53, Proto: UDP}},
		{in: "8080:80/tcp", want: PortForward{Host: 8080, Guest: 80, Proto: TCP}, str: "8080:80"},
		{in: "1053:53/UDP", want: PortForward{Host: 1053, Guest: 53, Proto: UDP}, str: "1053:53/udp"},
		{in: "0.0.0.0:8080:80", want: PortForward{Host: 8080, Guest: 80, Addr: any4}},
		{in: "10.1.2.3:53:53/udp", want: PortForward{Host: 53, Guest: 53, Proto: UDP, Addr: netip.MustParseAddr("10.1.2.3")}},
		{in: "80", wantErr: "want [ADDR:]HOST:GUEST"},
		{in: "1:2:3:4", wantErr: "want [ADDR:]HOST:GUEST"},
		{in: "0:80", wantErr: "not a port number"},
		{in: "8080:65536", wantErr: "guest port"},
		{in: "a:b", wantErr: "host port"},
		{in: ":80", wantErr: "host port"},
		{in: "8080:80/sctp", wantErr: "want tcp or udp"},
		{in: "udp:1053:1053", wantErr: "the protocol goes last: 1053:1053/udp"},
		{in: "localhost:80:80", wantErr: "not an IPv4 address"},
		{in: "::1:80:80", wantErr: "want [ADDR:]HOST:GUEST"},
	}
	for _, tt := range tests {
		got, err := ParsePortForward(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePortForward(%q) = %v, %v; want an error mentioning %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePortForward(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			continue
		}
		str := tt.str
		if str == "" {
			str = tt.in
		}
		if got.String() != str {
			t.Errorf("String() = %q, want %q", got.String(), str)
		}
	}
}

func TestCheckPorts(t *testing.T) {
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := uint16(taken.Addr().(*net.TCPAddr).Port)
	free := func() uint16 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return uint16(ln.Addr().(*net.TCPAddr).Port)
	}
	p := free()
	tests := []struct {
		name    string
		pfs     []PortForward
		wantErr string
	}{
		{"free", []PortForward{{Host: p, Guest: 80}}, ""},
		{"same port, tcp and udp", []PortForward{{Host: p, Guest: 80}, {Host: p, Guest: 80, Proto: UDP}}, ""},
		{"taken by another program", []PortForward{{Host: takenPort, Guest: 80}},
			fmt.Sprintf("publish %d:80: host port already in use: 127.0.0.1:%d/tcp is taken by another program", takenPort, takenPort)},
		{"twice in the list", []PortForward{{Host: p, Guest: 80}, {Host: p, Guest: 81}},
			fmt.Sprintf("publish %d:81: host port already in use: publish %d:80 forwards it already", p, p)},
		{"all interfaces and loopback", []PortForward{{Host: p, Guest: 80, Addr: netip.MustParseAddr("0.0.0.0")}, {Host: p, Guest: 81}},
			"forwards it already"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPorts(tt.pfs)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckPorts = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrPortInUse) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckPorts = %v, want ErrPortInUse mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	got := ShellQuote([]string{"qemu", "-drive", "file=/a b/c.fd", "it's", "", "hostfwd=tcp::1-:2"})
	want := `qemu -drive 'file=/a b/c.fd' 'it'\''s' '' hostfwd=tcp::1-:2`
	if got != want {
		t.Errorf("ShellQuote = %s\nwant        %s", got, want)
	}
}

func TestMicroVMAppend(t *testing.T) {
	defer func(f func() int) { hostTSCkHz = f }(hostTSCkHz)
	for _, tt := range []struct {
		name    string
		khz     int
		cmdline string
		accel   Accel
		want    string
	}{
		{"tcg", 2445402, "console=ttyS0", AccelTCG, "console=ttyS0 reboot=t tsc_early_khz=2445402"},
		{"tcg, empty line", 1000, "", AccelTCG, "reboot=t tsc_early_khz=1000"},
		{"already set", 2445402, "tsc_early_khz=1 reboot=k quiet", AccelTCG, "tsc_early_khz=1 reboot=k quiet"},
		{"kvm has kvmclock", 2445402, "console=ttyS0", AccelKVM, "console=ttyS0 reboot=t"},
		{"host frequency unknown", 0, "console=ttyS0", AccelTCG, "console=ttyS0 reboot=t"},
	} {
		khz := tt.khz
		hostTSCkHz = func() int { return khz }
		if got := microVMAppend(tt.cmdline, tt.accel); got != tt.want {
			t.Errorf("%s: microVMAppend(%q, %s) = %q, want %q", tt.name, tt.cmdline, tt.accel, got, tt.want)
		}
	}
}
