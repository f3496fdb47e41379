// Package powerkey reads the power key from Linux input devices, for
// machines whose power button is no ACPI device: an arm64 machine booted
// with a device tree (QEMU's virt with -kernel, boards) has it as
// gpio-keys, which reports KEY_POWER through an evdev node only.
package powerkey

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Input event constants from linux/input-event-codes.h.
const (
	evKey    = 0x01
	keyPower = 116
)

// eventSize is struct input_event on 64-bit Linux: a 16-byte timeval,
// then type and code (u16 each) and value (s32).
const eventSize = 24

// Pressed reports whether the input events in b hold a press of the
// power key. A partial event at the end is ignored.
func Pressed(b []byte) bool {
	for ; len(b) >= eventSize; b = b[eventSize:] {
		typ := binary.LittleEndian.Uint16(b[16:])
		code := binary.LittleEndian.Uint16(b[18:])
		value := int32(binary.LittleEndian.Uint32(b[20:]))
		if typ == evKey && code == keyPower && value == 1 {
			return true
		}
	}
	return false
}

// acpiButtonPhys are the phys prefixes of the input devices ACPI's
// button driver makes: it reports each press as an ACPI event too (see
// agent/acpi), so reading them here would see every press twice.
var acpiButtonPhys = []string{"LNXPWRBN", "PNP0C0C"}

// isACPIButton reports whether the event node named base (event0) is an
// ACPI button, by its phys under sysDir (/sys/class/input).
func isACPIButton(sysDir, base string) bool {
	b, err := os.ReadFile(filepath.Join(sysDir, base, "device", "phys"))
	if err != nil {
		return false
	}
	for _, p := range acpiButtonPhys {
		if strings.HasPrefix(string(b), p) {
			return true
		}
	}
	return false
}

// Listen calls fn for every press of the power key on any input device
// under dir (/dev/input) but ACPI's buttons (described under sysDir,
// /sys/class/input), until ctx ends. Devices appear as their drivers
// load, so dir is looked at again every rescan for new event nodes.
func Listen(ctx context.Context, dir, sysDir string, rescan time.Duration, logf func(string, ...any), fn func()) {
	open := map[string]bool{}
	for {
		nodes, _ := filepath.Glob(filepath.Join(dir, "event*"))
		for _, n := range nodes {
			if open[n] {
				continue
			}
			if isACPIButton(sysDir, filepath.Base(n)) {
				open[n] = true
				continue
			}
			f, err := os.Open(n)
			if err != nil {
				continue // not there yet, or not readable: look again later
			}
			open[n] = true
			logf("power key: watching %s", n)
			go watch(ctx, f, logf, fn)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(rescan):
		}
	}
}

// watch reads one input device until it fails or ctx ends.
func watch(ctx context.Context, f *os.File, logf func(string, ...any), fn func()) {
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	buf := make([]byte, 64*eventSize)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if ctx.Err() == nil {
				logf("power key: %s: %v", f.Name(), err)
			}
			return
		}
		if Pressed(buf[:n]) {
			fn()
		}
	}
}
