// Package acpi receives ACPI events (power button presses) from the
// kernel's "acpi_event" generic netlink family.
//
// The family is looked up with github.com/vishvananda/netlink, which the
// agent links anyway for network setup, but the multicast subscription and
// the reads are raw x/sys/unix: netlink.Subscribe takes groups as a 32-bit
// bind mask, while generic netlink group ids are assigned at run time and
// can exceed 31, which only NETLINK_ADD_MEMBERSHIP handles.
package acpi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Names from the kernel's drivers/acpi/event.c.
const (
	FamilyName = "acpi_event"
	GroupName  = "acpi_mc_group"
)

// PowerButton is the device class of the power button's events.
const PowerButton = "button/power"

// Kernel constants: ACPI_GENL_CMD_EVENT and ACPI_GENL_ATTR_EVENT.
const (
	cmdEvent  = 1
	attrEvent = 1
)

// Layout of struct acpi_genl_event: char device_class[20]; char
// bus_id[15]; u32 type; u32 data — the u32s aligned to 4, so type is at 36.
const (
	classLen  = 20
	busIDLen  = 15
	typeOff   = 36
	dataOff   = 40
	eventSize = 44
)

// Event is one struct acpi_genl_event.
type Event struct {
	DeviceClass string
	BusID       string
	Type        uint32
	Data        uint32
}

// Parse decodes the events in one netlink datagram. Messages that are not
// ACPI events are skipped; truncated ones are an error.
func Parse(b []byte) ([]Event, error) {
	var evs []Event
	for len(b) >= unix.NLMSG_HDRLEN {
		n := int(binary.NativeEndian.Uint32(b[0:4]))
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			return evs, fmt.Errorf("acpi: netlink message length %d of %d bytes", n, len(b))
		}
		msg := b[unix.NLMSG_HDRLEN:n]
		b = b[min(align(n), len(b)):]
		// genlmsghdr: cmd u8, version u8, reserved u16.
		if len(msg) < 4 || msg[0] != cmdEvent {
			continue
		}
		attrs := msg[4:]
		for len(attrs) >= 4 {
			l := int(binary.NativeEndian.Uint16(attrs[0:2]))
			typ := binary.NativeEndian.Uint16(attrs[2:4]) & nlaTypeMask
			if l < 4 || l > len(attrs) {
				return evs, fmt.Errorf("acpi: attribute length %d of %d bytes", l, len(attrs))
			}
			if typ == attrEvent {
				p := attrs[4:l]
				if len(p) < eventSize {
					return evs, fmt.Errorf("acpi: event of %d bytes, want %d", len(p), eventSize)
				}
				evs = append(evs, Event{
					DeviceClass: cstr(p[:classLen]),
					BusID:       cstr(p[classLen : classLen+busIDLen]),
					Type:        binary.NativeEndian.Uint32(p[typeOff:]),
					Data:        binary.NativeEndian.Uint32(p[dataOff:]),
				})
			}
			attrs = attrs[min(align(l), len(attrs)):]
		}
	}
	return evs, nil
}

// nlaTypeMask strips NLA_F_NESTED and NLA_F_NET_BYTEORDER.
const nlaTypeMask = 0x3fff

func align(n int) int { return (n + 3) &^ 3 }

func cstr(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Listen calls fn for every ACPI event until ctx ends. The family may not
// exist yet (it comes with ACPI support, and the button driver that feeds
// it may still be loading), so lookup is retried every retry until it
// appears; failures are reported to logf once.
func Listen(ctx context.Context, retry time.Duration, logf func(string, ...any), fn func(Event)) error {
	var group uint32
	for i := 0; ; i++ {
		g, err := lookup()
		if err == nil {
			group = g
			break
		}
		if i == 0 {
			logf("acpi: %v; retrying", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retry):
		}
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_GENERIC)
	if err != nil {
		return fmt.Errorf("acpi: netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("acpi: bind: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, int(group)); err != nil {
		unix.Close(fd)
		return fmt.Errorf("acpi: join group %d: %w", group, err)
	}
	// Through os.File the read parks in the runtime poller, so Close (on
	// ctx end) unblocks it.
	f := os.NewFile(uintptr(fd), "acpi-netlink")
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	buf := make([]byte, 8192)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, unix.ENOBUFS) {
				continue // dropped events; the next press still arrives
			}
			return fmt.Errorf("acpi: read: %w", err)
		}
		evs, err := Parse(buf[:n])
		if err != nil {
			logf("%v", err)
		}
		for _, e := range evs {
			fn(e)
		}
	}
}

func lookup() (uint32, error) {
	fam, err := netlink.GenlFamilyGet(FamilyName)
	if err != nil {
		return 0, fmt.Errorf("generic netlink family %s: %w", FamilyName, err)
	}
	for _, g := range fam.Groups {
		if g.Name == GroupName {
			return g.ID, nil
		}
	}
	return 0, fmt.Errorf("generic netlink family %s has no group %s", FamilyName, GroupName)
}
