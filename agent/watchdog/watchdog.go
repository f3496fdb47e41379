// Package watchdog drives a Linux hardware watchdog (/dev/watchdog): arm
// it with a timeout, ping it, and disarm it with the magic close at a
// clean shutdown. A machine whose agent stops pinging is reset by the
// hardware.
package watchdog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Path is the first watchdog device.
const Path = "/dev/watchdog"

// Device is an armed watchdog.
type Device struct {
	f *os.File
	// Identity is the driver's name for the device ("i6300ESB timer").
	Identity string
	// Timeout is what the driver accepted, which may differ from what was
	// asked (hardware steps or bounds).
	Timeout time.Duration

	once sync.Once
	stop chan struct{}
	done chan struct{}
}

// Open arms the watchdog at path with timeout (whole seconds) and starts
// pinging it. Opening the device arms it: from here on the machine resets
// unless it is pinged or disarmed.
func Open(path string, timeout time.Duration) (*Device, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	d := &Device{f: f, stop: make(chan struct{}), done: make(chan struct{})}
	if info, err := unix.IoctlGetWatchdogInfo(fd); err == nil {
		d.Identity = string(bytes.TrimRight(info.Identity[:], "\x00"))
	}
	secs := max(int(timeout/time.Second), 1)
	if err := unix.IoctlSetPointerInt(fd, unix.WDIOC_SETTIMEOUT, secs); err != nil {
		// Armed with the driver's default: still useful, so say so and
		// keep it rather than leave an armed device unpinged.
		err = fmt.Errorf("set timeout %ds: %w", secs, err)
		defer func() { d.start() }()
		d.Timeout = d.readTimeout(fd)
		return d, err
	}
	d.Timeout = d.readTimeout(fd)
	d.start()
	return d, nil
}

func (d *Device) readTimeout(fd int) time.Duration {
	if s, err := unix.IoctlGetInt(fd, unix.WDIOC_GETTIMEOUT); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// PingInterval is how often a watchdog with timeout t is pinged: four
// times per period, so a slow moment (TCG, a loaded host) is no reset.
func PingInterval(t time.Duration) time.Duration {
	if t <= 0 {
		return time.Second
	}
	return max(t/4, 100*time.Millisecond)
}

func (d *Device) start() {
	go func() {
		defer close(d.done)
		tick := time.NewTicker(PingInterval(d.Timeout))
		defer tick.Stop()
		for {
			// Ping first: the device has been armed since the open.
			_ = unix.IoctlWatchdogKeepalive(int(d.f.Fd()))
			select {
			case <-d.stop:
				return
			case <-tick.C:
			}
		}
	}()
}

// Disarm stops the pings and disables the watchdog with the magic close
// ('V' then close), for a shutdown that must not be cut short. A kernel
// built with nowayout keeps it running regardless.
func (d *Device) Disarm() error {
	var err error
	d.once.Do(func() {
		close(d.stop)
		<-d.done
		_, werr := d.f.Write([]byte("V"))
		err = errors.Join(werr, d.f.Close())
	})
	return err
}
