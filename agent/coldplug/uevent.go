package coldplug

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Uevent is one kernel uevent: "ACTION@DEVPATH" then NUL-separated
// KEY=value pairs, as the kernel sends them on NETLINK_KOBJECT_UEVENT.
type Uevent struct {
	Action    string // add, remove, change, bind, ...
	DevPath   string // /devices/pci0000:00/0000:00:03.0
	Subsystem string
	// Modalias is empty for devices with none (partitions, classes).
	Modalias string
	Env      map[string]string
}

// ParseUevent reads one kernel uevent datagram. Messages from udev's
// own netlink group start with "libudev" and are refused, as is anything
// without the "ACTION@DEVPATH" header.
func ParseUevent(b []byte) (Uevent, error) {
	fields := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
	head := string(fields[0])
	action, devpath, ok := strings.Cut(head, "@")
	if !ok || action == "" || !strings.HasPrefix(devpath, "/") {
		return Uevent{}, fmt.Errorf("uevent: bad header %q", truncate(head, 40))
	}
	u := Uevent{Action: action, DevPath: devpath, Env: map[string]string{}}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(string(f), "=")
		if !ok || k == "" {
			continue
		}
		u.Env[k] = v
	}
	if a := u.Env["ACTION"]; a != "" && a != action {
		return Uevent{}, fmt.Errorf("uevent: header says %s, ACTION=%s", action, a)
	}
	if p := u.Env["DEVPATH"]; p != "" {
		u.DevPath = p
	}
	u.Subsystem = u.Env["SUBSYSTEM"]
	u.Modalias = u.Env["MODALIAS"]
	return u, nil
}

// Device returns the name of the uevent's device ("0000:00:03.0").
func (u Uevent) Device() string { return filepath.Base(u.DevPath) }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Device is a device with a modalias.
type Device struct {
	// Name is its sysfs name ("0000:00:02.0", "PNP0C0C:00", "cpu").
	Name     string
	Modalias string
}

// Scan reads the modalias of every device on every bus under sysRoot
// (/sys): /sys/bus/*/devices/*/modalias and the CPU's
// /sys/devices/system/cpu/modalias. The list is sorted by modalias then
// name; devices whose modalias cannot be read are skipped (they are gone,
// or have none).
func Scan(sysRoot string) ([]Device, error) {
	paths, err := filepath.Glob(filepath.Join(sysRoot, "bus", "*", "devices", "*", "modalias"))
	if err != nil {
		return nil, err
	}
	paths = append(paths, filepath.Join(sysRoot, "devices", "system", "cpu", "modalias"))
	var devs []Device
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		alias := strings.TrimSpace(string(b))
		if alias == "" {
			continue
		}
		name := filepath.Base(filepath.Dir(p))
		devs = append(devs, Device{Name: name, Modalias: alias})
	}
	sort.Slice(devs, func(i, j int) bool {
		if devs[i].Modalias != devs[j].Modalias {
			return devs[i].Modalias < devs[j].Modalias
		}
		return devs[i].Name < devs[j].Name
	})
	if len(devs) == 0 {
		if _, err := os.Stat(filepath.Join(sysRoot, "bus")); err != nil {
			return nil, fmt.Errorf("scan devices: %w", err)
		}
	}
	return devs, nil
}
