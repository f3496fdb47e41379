package qga

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// PortName is the name QEMU, libvirt, KubeVirt and Proxmox give the guest
// agent's virtio-serial port.
const PortName = "org.qemu.guest_agent.0"

// portsDir lists virtio-serial ports, each with a "name" file.
const portsDir = "/sys/class/virtio-ports"

// ioctl numbers from linux/fs.h: _IOWR('X', 119, int) and _IOWR('X', 120, int).
const (
	fiFreeze = 0xC0045877
	fiThaw   = 0xC0045878
)

// FindPort returns the device of the port called name (/dev/vport1p1),
// polling until wait has passed: ports appear asynchronously after
// virtio_console loads. It returns "" when the machine has none.
func FindPort(ctx context.Context, name string, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	for {
		ents, err := os.ReadDir(portsDir)
		if err == nil {
			for _, e := range ents {
				b, err := os.ReadFile(filepath.Join(portsDir, e.Name(), "name"))
				if err == nil && strings.TrimSpace(string(b)) == name {
					return "/dev/" + e.Name(), nil
				}
			}
		}
		if time.Now().After(deadline) {
			return "", nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Listen finds the guest agent port and serves the protocol on it until
// ctx ends. No port (a machine started without the channel) is not an
// error: it returns nil at once after wait. A failing port is opened
// again after a pause: the agent must not go deaf for the rest of the
// boot because of one bad read.
func Listen(ctx context.Context, s *Server, wait time.Duration) error {
	dev, err := FindPort(ctx, PortName, wait)
	if err != nil || dev == "" {
		return err
	}
	s.logf("qga: answering on %s (%s)", dev, PortName)
	for {
		err := serveDevice(ctx, s, dev)
		if ctx.Err() != nil {
			return nil
		}
		s.logf("qga: %s: %v; opening it again in %s", dev, err, reopenWait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(reopenWait):
		}
	}
}

// reopenWait is the pause before a failed port is opened again.
const reopenWait = 5 * time.Second

func serveDevice(ctx context.Context, s *Server, dev string) error {
	// O_RDWR on a virtio port: reads return 0 while no host is
	// connected, which Serve answers by waiting and reading again.
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { f.Close() }) // unblocks the read
	defer stop()
	return s.Serve(ctx, f, 250*time.Millisecond)
}

// Linux is the Host of a tinyboot machine.
type Linux struct {
	// Mounts are the mount points guest-get-fsinfo reports, when mounted.
	Mounts []string
	// Freezable are the mount points guest-fsfreeze-freeze freezes, when
	// mounted (the read-only ISO cannot change, so it is not one).
	Freezable []string
	// OnShutdown hands the agent a guest-shutdown's mode.
	OnShutdown func(mode string)
	// frozen are the mount points frozen now, to thaw exactly those.
	frozen []string
}

// Hostname is the kernel's hostname.
func (l *Linux) Hostname() (string, error) { return os.Hostname() }

// Now is the wall clock.
func (l *Linux) Now() time.Time { return time.Now() }

// OSInfo reports tinyboot and the running kernel from uname(2).
func (l *Linux) OSInfo() (OSInfo, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return OSInfo{}, fmt.Errorf("uname: %w", err)
	}
	return OSInfo{
		ID:            "tinyboot",
		Name:          "tinyboot",
		PrettyName:    "tinyboot",
		KernelRelease: unix.ByteSliceToString(u.Release[:]),
		KernelVersion: unix.ByteSliceToString(u.Version[:]),
		Machine:       unix.ByteSliceToString(u.Machine[:]),
	}, nil
}

// Interfaces lists every link with its MAC and addresses.
func (l *Linux) Interfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []Interface
	for _, ifc := range ifs {
		it := Interface{Name: ifc.Name, HardwareAddress: ifc.HardwareAddr.String()}
		if it.HardwareAddress == "" {
			it.HardwareAddress = "00:00:00:00:00:00"
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ifc.Name, err)
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			typ := "ipv6"
			if ipn.IP.To4() != nil {
				typ = "ipv4"
			}
			it.IPAddresses = append(it.IPAddresses, IPAddress{Type: typ, Address: ipn.IP.String(), Prefix: ones})
		}
		out = append(out, it)
	}
	return out, nil
}

// mount is one line of /proc/self/mounts.
type mount struct{ dev, dir, fstype string }

func readMounts() (map[string]mount, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]mount{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) >= 3 {
			out[fl[1]] = mount{dev: fl[0], dir: fl[1], fstype: fl[2]}
		}
	}
	return out, sc.Err()
}

// Filesystems reports the Mounts that are mounted, with their sizes.
func (l *Linux) Filesystems() ([]Filesystem, error) {
	ms, err := readMounts()
	if err != nil {
		return nil, err
	}
	var out []Filesystem
	for _, dir := range l.Mounts {
		m, ok := ms[dir]
		if !ok {
			continue
		}
		fs := Filesystem{Name: filepath.Base(m.dev), Mountpoint: dir, Type: m.fstype}
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err == nil {
			bs := uint64(st.Bsize)
			fs.TotalBytes = st.Blocks * bs
			fs.UsedBytes = (st.Blocks - st.Bfree) * bs
		}
		if strings.HasPrefix(m.dev, "/dev/") {
			fs.Disk = []DiskAddress{{Dev: m.dev, BusType: busType(filepath.Base(m.dev))}}
		}
		out = append(out, fs)
	}
	return out, nil
}

// busType guesses the protocol's bus-type from the kernel's device name.
func busType(dev string) string {
	switch {
	case strings.HasPrefix(dev, "vd"):
		return "virtio"
	case strings.HasPrefix(dev, "nvme"):
		return "nvme"
	case strings.HasPrefix(dev, "sr"):
		return "sata"
	case strings.HasPrefix(dev, "sd"):
		return "scsi"
	}
	return "unknown"
}

// Freeze freezes the mounted Freezable filesystems with FIFREEZE; on a
// failure it thaws the ones it froze.
func (l *Linux) Freeze() (int, error) {
	ms, err := readMounts()
	if err != nil {
		return 0, err
	}
	for _, dir := range l.Freezable {
		if _, ok := ms[dir]; !ok {
			continue
		}
		if err := fsIoctl(dir, fiFreeze); err != nil {
			_, _ = l.Thaw()
			return 0, fmt.Errorf("%s: %w", dir, err)
		}
		l.frozen = append(l.frozen, dir)
	}
	return len(l.frozen), nil
}

// Thaw thaws what Freeze froze with FITHAW. A filesystem that is not
// frozen any more (EINVAL) counts as thawed.
func (l *Linux) Thaw() (int, error) {
	n := 0
	var errs []error
	var still []string
	for _, dir := range l.frozen {
		err := fsIoctl(dir, fiThaw)
		switch {
		case err == nil:
			n++
		case errors.Is(err, unix.EINVAL):
		default:
			errs = append(errs, fmt.Errorf("%s: %w", dir, err))
			still = append(still, dir)
		}
	}
	l.frozen = still
	return n, errors.Join(errs...)
}

func fsIoctl(dir string, req uint) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.IoctlSetPointerInt(fd, req, 0)
}

// Shutdown hands the mode to OnShutdown.
func (l *Linux) Shutdown(mode string) error {
	if l.OnShutdown == nil {
		return errors.New("shutdown is not wired")
	}
	l.OnShutdown(mode)
	return nil
}
