package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/tinyboot/tinyboot/internal/qemu"
)

// TestColdplug boots on q35 with an e1000e NIC next to the usual virtio
// one and a free PCIe hotplug slot: the boot loads the drivers of the
// devices present (e1000e, the AHCI CD path) and not those of devices the
// machine lacks (nvme, xhci, USB storage), and a virtio disk hot-added
// over QMP while the app runs gets its driver from a kernel uevent.
func TestColdplug(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	hot := filepath.Join(t.TempDir(), "hot.img")
	if err := os.WriteFile(hot, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	m := boot(t, qemu.Config{
		Image: testImage(t, imageOpts{}),
		ExtraArgs: []string{
			// romfile= keeps the firmware from loading the NIC's PXE ROM.
			"-netdev", "user,id=net1", "-device", "e1000e,netdev=net1,romfile=",
			"-device", "pcie-root-port,id=slot1,chassis=1",
			"-drive", "if=none,id=hot,format=raw,file=" + hot,
		},
	})
	ctx := context.Background()
	line := m.Expect(ctx, `tinyboot: .*modules: loaded \d+ of \d+ in `, bootWait)
	for _, want := range []string{`\be1000e \(0000:`, `\bahci \(0000:`, `\bvirtio_net \(virtio\d+\)`} {
		if !regexp.MustCompile(want).MatchString(line) {
			t.Errorf("boot's modules line lacks %s: %s", want, line)
		}
	}
	expectApp(t, m)
	m.Expect(ctx, `testapp: ready`, stepWait)
	m.requireLines(
		// Mounted before the app starts; the line may come before the
		// modules' summary (the search runs beside the module loads).
		`tinyboot: .*iso: mounted /dev/sr0 at /iso \(volume `,
		// The CD's SCSI device shows up while the boot loads or after
		// (the ATA probe is asynchronous): either way sr_mod is for it.
		`tinyboot: .*modules: loaded .*\bsr_mod \(\d+:\d+:\d+:\d+\)`,
		`tinyboot: .*modules: loaded \d+ in \S+: .*\bisofs \(iso9660\)`,
		`tinyboot: .*network: eth\d: leased `,
	)

	qctx, cancel := context.WithTimeout(ctx, stepWait)
	defer cancel()
	if _, err := m.VM.QMP().Execute(qctx, "device_add", map[string]any{
		"driver": "virtio-blk-pci", "bus": "slot1", "drive": "hot", "id": "hotdisk",
	}); err != nil {
		t.Fatalf("hot-add a virtio disk: %v", err)
	}
	m.Expect(ctx, `tinyboot: .*modules: loaded \d+ in \S+: .*\bvirtio_blk \(virtio\d+\)`, stepWait)
	m.refuseLines(
		`tinyboot: .*modules: loaded .*\bnvme\b`,
		`tinyboot: .*modules: loaded .*\bxhci_pci\b`,
		`tinyboot: .*modules: loaded .*\busb_storage\b`,
		`tinyboot: .*modules: loaded .*\buas\b`,
		`tinyboot: .*modules: loaded .*\bbtrfs\b`, // no btrfs volume, no btrfs
		`tinyboot: .*modules: [a-z_]+: `,          // no module failed
	)
	powerOff(t, m)
}
