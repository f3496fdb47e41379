package qemu

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestBuildArgsArm64(t *testing.T) {
	head := func(accel ...string) []string {
		return append(append([]string{"qemu-system-aarch64", "-machine", "virt"}, accel...),
			"-m", "512M", "-smp", "1", "-nodefaults", "-no-user-config",
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd",
			"-drive", "if=pflash,format=raw,unit=1,file=/vm/VARS.fd")
	}
	tail := []string{"-nic", "user,model=virtio-net-pci", "-device", "virtio-rng-pci", "-device", "pvpanic-pci", "-display", "none", "-serial", "stdio"}
	tcg := []string{"-accel", "tcg", "-cpu", "max,pauth-impdef=on"}
	image := "if=none,id=boot,format=raw,readonly=on,file=a.iso"
	tests := []struct {
		name   string
		cfg    Config
		middle []string
		accel  []string
	}{
		{"cdrom on virtio-scsi", Config{Medium: MediumCDROM, Accel: AccelTCG},
			[]string{"-device", "virtio-scsi-pci,id=scsi", "-drive", image + ",media=cdrom", "-device", "scsi-cd,drive=boot,bus=scsi.0,bootindex=0"}, tcg},
		{"raw virtio disk", Config{Medium: MediumRaw, Accel: AccelTCG},
			[]string{"-drive", image, "-device", "virtio-blk-pci,drive=boot,bootindex=0"}, tcg},
		{"usb on kvm", Config{Medium: MediumUSB, Accel: AccelKVM},
			[]string{"-device", "qemu-xhci,id=xhci", "-drive", image, "-device", "usb-storage,bus=xhci.0,drive=boot,bootindex=0"},
			[]string{"-accel", "kvm", "-cpu", "host"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Arch, cfg.Firmware, cfg.Image = "arm64", testFW, "a.iso"
			got, err := BuildArgs(cfg, Instance{Vars: "/vm/VARS.fd"})
			if err != nil {
				t.Fatal(err)
			}
			want := append(append(head(tt.accel...), tt.middle...), tail...)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("args\n got %q\nwant %q", got, want)
			}
			for _, pc := range []string{"q35", "ide-cd", "pvpanic"} {
				for _, a := range got {
					if a == pc {
						t.Errorf("arm64 command has the PC's %s: %q", pc, got)
					}
				}
			}
		})
	}
}

func TestFindFirmwareArm64(t *testing.T) {
	root := t.TempDir()
	if _, err := findFirmwareArm64(root, ""); !errors.Is(err, ErrNoAAVMF) || !strings.Contains(err.Error(), "qemu-efi-aarch64") {
		t.Errorf("no firmware: %v, want ErrNoAAVMF naming qemu-efi-aarch64", err)
	}
	touch(t, filepath.Join(root, "usr/share/AAVMF/AAVMF_CODE.fd"), filepath.Join(root, "usr/share/AAVMF/AAVMF_VARS.fd"))
	fw, err := findFirmwareArm64(root, "")
	if err != nil {
		t.Fatal(err)
	}
	if fw.Code != filepath.Join(root, "usr/share/AAVMF/AAVMF_CODE.fd") || fw.Vars != filepath.Join(root, "usr/share/AAVMF/AAVMF_VARS.fd") {
		t.Errorf("found %+v", fw)
	}
}

func TestArm64Defaults(t *testing.T) {
	c, err := Config{Arch: "arm64"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.QEMU != "qemu-system-aarch64" {
		t.Errorf("arm64 QEMU = %q, want qemu-system-aarch64", c.QEMU)
	}
	_, err = LookPath(filepath.Join(t.TempDir(), "qemu-system-aarch64"))
	if !errors.Is(err, ErrNoQEMU) || !strings.Contains(err.Error(), "apt-get install qemu-system-arm") || !strings.Contains(err.Error(), "dnf install qemu-system-aarch64") {
		t.Errorf("missing qemu-system-aarch64: %v, want the packages to install", err)
	}
	if got := resolveAccelArm64(AccelTCG); got != AccelTCG {
		t.Errorf("explicit tcg resolved to %s", got)
	}
}
