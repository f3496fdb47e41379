// Package powerkey reads the power key from Linux input devices, for
// machines without ACPI: an arm64 machine booted with a device tree
// (QEMU's virt with -kernel, boards) has its power button as gpio-keys,
// which reports KEY_POWER through an evdev node rather than an ACPI event.
package powerkey

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
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

// HasACPI reports whether the kernel found ACPI tables: then the power
// button comes as an ACPI event (see agent/acpi), and reading the input
// devices too would see each press twice.
func HasACPI() bool {
	_, err := os.Stat("/sys/firmware/acpi/tables")
	return err == nil
}

// Listen calls fn for every press of the power key on any input device
// under dir (/dev/input), until ctx ends. Devices appear as their drivers
// load, so dir is looked at again every rescan for new event nodes.
func Listen(ctx context.Context, dir string, rescan time.Duration, logf func(string, ...any), fn func()) {
	open := map[string]bool{}
	for {
		nodes, _ := filepath.Glob(filepath.Join(dir, "event*"))
		for _, n := range nodes {
			if open[n] {
				continue
			}
			f, err := os.Open(n)
			if err != nil {
				continue // not there yet, or not readable: look again later
			}
			open[n] = true
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
