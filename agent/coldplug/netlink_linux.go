package coldplug

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"
)

// kernelGroup is the multicast group the kernel sends uevents to (udev
// rebroadcasts on group 2).
const kernelGroup = 1

// Listen opens a NETLINK_KOBJECT_UEVENT socket and sends every kernel
// uevent that parses to the returned channel until ctx ends. The socket is
// open when Listen returns, so a Scan after it misses no device: one that
// appears between the two is reported by both.
func Listen(ctx context.Context, onError func(error)) (<-chan Uevent, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("uevent socket: %w", err)
	}
	// A burst of hotplug events (a USB hub) must not overflow the queue
	// while a module loads; the kernel caps this at rmem_max without
	// privilege and the agent has it.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: kernelGroup}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("uevent socket: bind: %w", err)
	}
	ch := make(chan Uevent, 64)
	go func() {
		<-ctx.Done()
		unix.Close(fd) // ends the Recvfrom below
	}()
	go func() {
		defer close(ch)
		buf := make([]byte, 16<<10)
		for {
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err == unix.EINTR {
				continue
			}
			if err == unix.ENOBUFS {
				onError(fmt.Errorf("uevent socket: events lost (receive queue full)"))
				continue
			}
			if err != nil || ctx.Err() != nil {
				if ctx.Err() == nil {
					onError(fmt.Errorf("uevent socket: %w", err))
				}
				return
			}
			// Only the kernel (port 0) sends the events to trust.
			if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
				continue
			}
			u, err := ParseUevent(buf[:n])
			if err != nil {
				continue
			}
			select {
			case ch <- u:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}
