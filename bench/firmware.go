package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tinyboot/tinyboot/internal/qemu"
)

// firmwareCase is one way to boot the same build: a firmware and machine
// over one of its output formats.
type firmwareCase struct {
	Name string
	cfg  func(f formatOutputs, disk string) qemu.Config
}

// formatOutputs are the files of one `build --format iso,uki,kernel`.
type formatOutputs struct {
	ISO, UKI, KernelDir string
}

func (f formatOutputs) kernelConfig(machine qemu.Machine, disk string) qemu.Config {
	cmdline, _ := os.ReadFile(filepath.Join(f.KernelDir, "cmdline"))
	return qemu.Config{Machine: machine, FirmwareKind: qemu.FirmwareNone,
		Kernel: filepath.Join(f.KernelDir, "vmlinuz"), Initrd: filepath.Join(f.KernelDir, "initrd.img"),
		Append: strings.TrimSpace(string(cmdline)), Disks: []string{disk}}
}

// firmwareCases are the boots the BIOS/microVM issue compares, side by
// side: the same build's ISO under OVMF and under SeaBIOS, and its kernel
// format on q35 and on microvm.
var firmwareCases = []firmwareCase{
	{"q35 + OVMF, ISO as CD", func(f formatOutputs, disk string) qemu.Config {
		return qemu.Config{Image: f.ISO, Disks: []string{disk}}
	}},
	{"q35 + SeaBIOS, ISO as CD", func(f formatOutputs, disk string) qemu.Config {
		return qemu.Config{Image: f.ISO, FirmwareKind: qemu.FirmwareBIOS, Disks: []string{disk}}
	}},
	{"q35, `-kernel` (kernel format)", func(f formatOutputs, disk string) qemu.Config {
		return f.kernelConfig(qemu.MachineQ35, disk)
	}},
	{"microvm, `-kernel` (kernel format)", func(f formatOutputs, disk string) qemu.Config {
		return f.kernelConfig(qemu.MachineMicroVM, disk)
	}},
}

// firmwareRun is one boot of one case.
type firmwareRun struct {
	Case string
	Run  *bootRun
}

// firmwares builds the spec as iso, uki and kernel at once, records what
// BIOS support adds to the ISO over the bare UKI, and boots every case
// in turn, -boots rounds.
func (b *bench) firmwares(ctx context.Context) error {
	if err := b.ensureImage(ctx); err != nil {
		return err
	}
	dir := filepath.Join(b.cfg.Work, "formats")
	r, err := b.build(ctx, b.warmCache, dir, "--format", "iso,uki,kernel")
	if err != nil {
		return err
	}
	out := formatOutputs{ISO: filepath.Join(dir, "hello.iso"), UKI: filepath.Join(dir, "hello.efi"), KernelDir: filepath.Join(dir, "hello-kernel")}
	for _, w := range r.Result.Outputs {
		switch w.Format {
		case "iso":
			b.res.FormatISO = w.Size
		case "uki":
			b.res.FormatUKI = w.Size
		}
	}
	disk := filepath.Join(b.cfg.Work, "fw-disk.img")
	cmd := exec.CommandContext(ctx, b.composer, "disk", "create", disk, "--force", "--label", "tinyboot", "--size", "256M")
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("disk create: %w\n%s", err, o)
	}
	for i := range max(b.cfg.Boots, 1) {
		for _, c := range firmwareCases {
			run, err := bootWith(ctx, c.cfg(out, disk), appLine, bootTimeout)
			if err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
			b.log.Info("firmware boot", "round", i+1, "case", c.Name, "app", run.App)
			b.res.Firmware = append(b.res.Firmware, firmwareRun{Case: c.Name, Run: run})
		}
	}
	return nil
}

func (r *results) writeFirmware(p printer) {
	if len(r.Firmware) == 0 && r.FormatISO == 0 {
		return
	}
	p("### Firmware and machine types (one build, `--format iso,uki,kernel`), n=%d each", len(r.Firmware)/len(firmwareCases))
	p("")
	if r.FormatISO > 0 && r.FormatUKI > 0 {
		p("The ISO (BIOS + UEFI) is %s; the UKI alone %s: the ISO adds %.1f KiB (target < 256 KiB).", mib(r.FormatISO), mib(r.FormatUKI), float64(r.FormatISO-r.FormatUKI)/1024)
		p("")
	}
	p("| boot | host wall, QEMU start → app's first line | guest kernel start → /init | guest /init → app |")
	p("|---|---|---|---|")
	for _, c := range firmwareCases {
		var runs []*bootRun
		for _, f := range r.Firmware {
			if f.Case == c.Name {
				runs = append(runs, f.Run)
			}
		}
		if len(runs) == 0 {
			continue
		}
		p("| %s | %s | %s | %s |", c.Name,
			hostOf(runs, func(x *bootRun) time.Duration { return x.App }).spread(),
			guestOf(runs, func(g guestTimes) time.Duration { return g.InitStart }).spread(),
			guestOf(runs, guestTimes.InitToApp).spread())
	}
	p("")
}
