package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tinyboot/tinyboot/agent/blkid"
	"golang.org/x/sys/unix"
)

// Linux is the real System. Its zero value is not usable: use NewLinux,
// which starts the child reaper.
type Linux struct {
	mu      sync.Mutex
	watched map[int]chan ExitStatus
	// appStdio are the app's fds 0-2: the console, or pipes to the
	// agent when its output also goes to syslog (remoteLog.start).
	appStdio []uintptr
}

// NewLinux returns the real System and starts reaping children on
// SIGCHLD.
func NewLinux(sigchld <-chan os.Signal) *Linux {
	l := &Linux{watched: map[int]chan ExitStatus{}, appStdio: []uintptr{0, 1, 2}}
	go func() {
		for range sigchld {
			l.reap()
		}
	}()
	return l
}

// reap collects every exited child. As PID 1 the agent inherits all
// orphans, so it waits for any pid rather than using os/exec's Wait, and
// hands the app's status to whoever watches that pid.
func (l *Linux) reap() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		if !ws.Exited() && !ws.Signaled() {
			continue
		}
		if ch, ok := l.watched[pid]; ok {
			delete(l.watched, pid)
			st := ExitStatus{Code: ws.ExitStatus()}
			if ws.Signaled() {
				st = ExitStatus{Signal: ws.Signal()}
			}
			ch <- st
		}
	}
}

// StartApp forks and execs the app. The reaper's lock is held across the
// fork so the child cannot be reaped before its pid is watched.
// Anything but root with the kernel's limits goes through the exec
// helper (see execHelper).
func (l *Linux) StartApp(path string, argv, env []string, priv Privileges) (int, <-chan ExitStatus, error) {
	if !priv.zero() {
		hargv, err := helperArgv(priv, path, argv)
		if err != nil {
			return 0, nil, err
		}
		path, argv = selfExe, hargv
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Dir:   "/",
		Env:   env,
		Files: l.appStdio,
		// Its own session, so signals meant for the app's process group
		// never reach PID 1.
		Sys: &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan ExitStatus, 1)
	l.watched[pid] = ch
	// A SIGCHLD may have raced the registration; reap again to be sure.
	go l.reap()
	return pid, ch, nil
}

// Mount creates target and mounts source there.
func (l *Linux) Mount(source, target, fstype string, flags uintptr, data string) error {
	if flags&unix.MS_REMOUNT == 0 {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
	}
	return unix.Mount(source, target, fstype, flags, data)
}

// Unmount unmounts target.
func (l *Linux) Unmount(target string, flags int) error { return unix.Unmount(target, flags) }

// Sync flushes all filesystems.
func (l *Linux) Sync() { unix.Sync() }

// Reboot performs act with reboot(2).
func (l *Linux) Reboot(act Action) error {
	cmd := unix.LINUX_REBOOT_CMD_RESTART
	switch act {
	case PowerOff:
		cmd = unix.LINUX_REBOOT_CMD_POWER_OFF
	case Halt:
		cmd = unix.LINUX_REBOOT_CMD_HALT
	}
	return unix.Reboot(cmd)
}

// SetHostname sets the kernel's hostname.
func (l *Linux) SetHostname(name string) error { return unix.Sethostname([]byte(name)) }

// LoadModule loads a .ko with finit_module(2).
func (l *Linux) LoadModule(path, params string) error { return finitModule(path, params) }

func finitModule(path, params string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.FinitModule(int(f.Fd()), params, 0)
}

// BlockDevices reads /sys/class/block.
func (l *Linux) BlockDevices() ([]BlockDevice, error) {
	ents, err := os.ReadDir("/sys/class/block")
	if err != nil {
		return nil, err
	}
	var devs []BlockDevice
	for _, e := range ents {
		name := e.Name()
		d := BlockDevice{Name: name}
		if _, err := os.Stat(filepath.Join("/sys/class/block", name, "partition")); err == nil {
			d.Partition = true
			// /sys/class/block/vda1 links to .../block/vda/vda1.
			if target, err := os.Readlink(filepath.Join("/sys/class/block", name)); err == nil {
				d.Parent = filepath.Base(filepath.Dir(target))
			}
		} else if _, err := os.Lstat(filepath.Join("/sys/class/block", name, "bdi")); err != nil {
			// device_add_disk links the disk to its backing device info
			// just before it makes the disk openable (bdev_add).
			d.Registering = true
		}
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Name < devs[j].Name })
	return devs, nil
}

// Probe identifies the filesystem on /dev/name.
func (l *Linux) Probe(name string) (blkid.Info, error) { return blkid.ProbeFile("/dev/" + name) }

// Kill sends sig to pid.
func (l *Linux) Kill(pid int, sig syscall.Signal) error { return unix.Kill(pid, sig) }

// StepClock moves CLOCK_REALTIME by d.
func (l *Linux) StepClock(d time.Duration) error {
	ts := unix.NsecToTimespec(time.Now().Add(d).UnixNano())
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return fmt.Errorf("clock_settime: %w", err)
	}
	return nil
}

// pfKthread is PF_KTHREAD in /proc/<pid>/stat's flags field.
const pfKthread = 0x00200000

// Leftovers counts live user processes other than PID 1 by reading
// /proc/<pid>/stat: kernel threads carry PF_KTHREAD, zombies state Z.
func (l *Linux) Leftovers() (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if isLiveUserProcess(string(b)) {
			n++
		}
	}
	return n, nil
}

// isLiveUserProcess reads a /proc/<pid>/stat line: "pid (comm) S ppid
// pgrp session tty_nr tpgid flags ...". comm may hold spaces and
// parentheses, so fields are counted after its last ')'.
func isLiveUserProcess(stat string) bool {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 7 {
		return false
	}
	if f[0] == "Z" || f[0] == "X" {
		return false
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	return err == nil && flags&pfKthread == 0
}

// WriteFile writes path (see writeFile).
func (l *Linux) WriteFile(path string, data []byte, perm os.FileMode) error {
	return writeFile(path, data, perm)
}

// MkdirAll makes path and its parents.
func (l *Linux) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }

// Chown gives path to uid and gid.
func (l *Linux) Chown(path string, uid, gid int) error { return os.Chown(path, uid, gid) }
