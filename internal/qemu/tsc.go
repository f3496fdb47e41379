package qemu

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
)

// A microvm has neither an HPET nor an ACPI PM timer, so Linux can
// calibrate the TSC only against the PIT. Under TCG on a busy host the
// emulated CPU runs too unevenly for that: both calibrations fail, the
// TSC is marked unstable, and Debian's 6.1 kernel hangs before it prints
// anything past "tsc: Marking TSC unstable" (seen here under load). TCG's
// TSC is the host's, so telling the kernel the host's frequency with
// tsc_early_khz= skips the calibration and boots reliably. Under KVM the
// guest has kvmclock and needs none of this.

// hostTSCkHz returns the host CPU's clock in kHz as /proc/cpuinfo's first
// "cpu MHz" says, or 0 when it cannot tell (not Linux, no such line). It
// is a variable so tests get a fixed answer.
var hostTSCkHz = sync.OnceValue(func() int {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(k) != "cpu MHz" {
			continue
		}
		mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || mhz <= 0 {
			return 0
		}
		return int(mhz * 1000)
	}
	return 0
})

// microVMAppend adds what a microvm's kernel command line needs unless
// the line sets it already: reboot=t, because the kernel's default reboot
// (ACPI reset, then the keyboard controller, then the BIOS) sometimes
// ended in "reboot: Restarting system" and a machine that never reset
// here, while a triple fault always resets a microvm (it is how
// Firecracker-style guests reboot); and under TCG tsc_early_khz= (see
// above).
func microVMAppend(cmdline string, accel Accel) string {
	if !strings.Contains(cmdline, "reboot=") {
		cmdline += " reboot=t"
	}
	if khz := hostTSCkHz(); accel == AccelTCG && khz != 0 && !strings.Contains(cmdline, "tsc_early_khz=") {
		cmdline += " tsc_early_khz=" + strconv.Itoa(khz)
	}
	return strings.TrimSpace(cmdline)
}
