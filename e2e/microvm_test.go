package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/internal/bootdisk"
	"github.com/tinyboot/tinyboot/internal/qemu"
	"github.com/tinyboot/tinyboot/spec"
)

// kernelImage is the kernel format of a test image: the files QEMU's
// -kernel, -initrd and -append (and Firecracker) take.
type kernelImage struct {
	Vmlinuz, Initrd, Cmdline string // paths; Cmdline's file holds one line
}

// append is the kernel command line the cmdline file holds.
func (k kernelImage) append(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(k.Cmdline)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// kernelFormat is the kernel format of the test image for o, from the
// build that writes every format the scenarios boot.
func kernelFormat(t testing.TB, o imageOpts) kernelImage {
	t.Helper()
	dir := formatImages(t, o)[spec.FormatKernel]
	return kernelImage{
		Vmlinuz: filepath.Join(dir, "vmlinuz"),
		Initrd:  filepath.Join(dir, "initrd.img"),
		Cmdline: filepath.Join(dir, "cmdline"),
	}
}

// kernelServeOpts is the test app serving HTTP with a required btrfs
// volume: one image shows the network, the disk and the shutdown.
var kernelServeOpts = imageOpts{
	Args:       []string{"-listen", ":8080"},
	Persistent: &spec.Persistent{Label: spec.DefaultLabel, FS: spec.FSBtrfs, Required: true},
}

// TestKernelFormat boots the kernel format directly (QEMU's -kernel) on
// q35 through SeaBIOS and on the microvm machine with a virtio-mmio NIC
// and disk: the app answers HTTP through a forwarded port and its boot
// counter on /persistent survives a graceful stop and a second boot.
// The stops differ: the ACPI power button on q35 and, on microvm, the
// power button through the GED on the first boot and Ctrl-Alt-Del
// (Firecracker's only stop signal) on the second.
func TestKernelFormat(t *testing.T) {
	t.Parallel()
	for _, machine := range []qemu.Machine{qemu.MachineQ35, qemu.MachineMicroVM} {
		t.Run(string(machine), func(t *testing.T) {
			t.Parallel()
			timeScenario(t)
			k := kernelFormat(t, kernelServeOpts)
			disk := newDisk(t, spec.FSBtrfs, spec.DefaultLabel)
			ctx := context.Background()
			for bootN := 1; bootN <= 2; bootN++ {
				port := freePort(t)
				m := boot(t, qemu.Config{
					Machine: machine, FirmwareKind: qemu.FirmwareNone,
					Kernel: k.Vmlinuz, Initrd: k.Initrd, Append: k.append(t),
					Disks:   []string{disk},
					Publish: []qemu.PortForward{{Host: uint16(port), Guest: 8080}},
				})
				expectApp(t, m)
				// The lease and the volume come in either order.
				m.requireLines(`tinyboot: .*network: eth0: leased `,
					`tinyboot: .*persistent: mounted /dev/vda at /persistent \(btrfs, label tinyboot\)`)
				m.Expect(ctx, fmt.Sprintf(`testapp: boot count %d$`, bootN), stepWait)
				m.Expect(ctx, `testapp: listening on :8080`, stepWait)
				if page := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); !bytes.HasPrefix(page, []byte("testapp on ")) {
					t.Errorf("GET / = %q, want the test app's greeting", page)
				}
				if machine == qemu.MachineMicroVM && bootN == 2 {
					ctrlAltDel(t, m)
					continue
				}
				m.Powerdown()
				m.Expect(ctx, `tinyboot: .*shutdown: power button`, stepWait)
				m.Expect(ctx, `tinyboot: .*shutdown: synced and unmounted /persistent`, stepWait)
				m.Expect(ctx, `tinyboot: .*shutdown: powering off`, stepWait)
				if got := m.WaitExit(exitWait); got != qemu.ExitPoweroff {
					t.Fatalf("boot %d ended with %s, want %s", bootN, got, qemu.ExitPoweroff)
				}
			}
		})
	}
}

// ctrlAltDel types Ctrl-Alt-Del and expects the agent's graceful
// shutdown, which ends in a reboot (QEMU exits under NoReboot, as
// Firecracker does on any guest reboot).
func ctrlAltDel(t *testing.T, m *Machine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepWait)
	defer cancel()
	if err := m.VM.CtrlAltDel(ctx); err != nil {
		t.Fatalf("%v; last lines:\n%s", err, m.tail())
	}
	m.Expect(ctx, `tinyboot: .*shutdown: ctrl-alt-del`, stepWait)
	m.Expect(ctx, `tinyboot: .*shutdown: synced and unmounted /persistent`, stepWait)
	m.Expect(ctx, `tinyboot: .*shutdown: rebooting`, stepWait)
	if got := m.WaitExit(exitWait); got != qemu.ExitReboot {
		t.Fatalf("machine ended with %s after ctrl-alt-del, want %s", got, qemu.ExitReboot)
	}
}

// TestUKIFromESP boots the UKI alone the way tbcompose run does: from a
// throwaway ESP on a virtio disk under OVMF. The app answers HTTP through
// a forwarded port and the power button powers the machine off.
func TestUKIFromESP(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	ukiPath := formatImages(t, biosServeOpts)[spec.FormatUKI]
	disk, err := bootdisk.UKIDisk(ukiPath, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	m := boot(t, qemu.Config{
		Image: disk, Medium: qemu.MediumRaw,
		Publish: []qemu.PortForward{{Host: uint16(port), Guest: 8080}},
	})
	ctx := context.Background()
	expectApp(t, m)
	m.Expect(ctx, `testapp: listening on :8080`, stepWait)
	if page := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); !bytes.HasPrefix(page, []byte("testapp on ")) {
		t.Errorf("GET / = %q, want the test app's greeting", page)
	}
	powerOff(t, m)
}

// TestKernelUnderOVMF boots the kernel format with -kernel under OVMF,
// whose Linux loader starts the bzImage through its EFI stub: the app
// answers HTTP and the power button powers the machine off.
func TestKernelUnderOVMF(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	k := kernelFormat(t, biosServeOpts)
	port := freePort(t)
	m := boot(t, qemu.Config{
		FirmwareKind: qemu.FirmwareUEFI,
		Kernel:       k.Vmlinuz, Initrd: k.Initrd, Append: k.append(t),
		Publish: []qemu.PortForward{{Host: uint16(port), Guest: 8080}},
	})
	ctx := context.Background()
	m.Expect(ctx, `tinyboot: .*secure boot: `, bootWait)
	expectApp(t, m)
	m.Expect(ctx, `testapp: listening on :8080`, stepWait)
	if page := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); !bytes.HasPrefix(page, []byte("testapp on ")) {
		t.Errorf("GET / = %q, want the test app's greeting", page)
	}
	powerOff(t, m)
}
