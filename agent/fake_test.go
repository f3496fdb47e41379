package agent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/agent/blkid"
	"github.com/tinyboot/tinyboot/agent/console"
)

// scaledClock runs 1000 times faster than real time, so minute-long
// backoffs take milliseconds while the order of events stays real. Its time
// moves only when one of its timers fires (to that timer's deadline), not
// with the real clock: a test machine under load that stalls a goroutine
// for a few real milliseconds must not make seconds of the agent's waits
// pass (the storage and leftover waits would expire early and the tests
// flake).
type scaledClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

const scale = 1000

func newClock() *scaledClock { return &scaledClock{now: time.Now()} }

func (c *scaledClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *scaledClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	deadline := c.now.Add(d)
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	time.AfterFunc(d/scale, func() {
		c.mu.Lock()
		if deadline.After(c.now) {
			c.now = deadline
		}
		now := c.now
		c.mu.Unlock()
		ch <- now
	})
	return ch
}

// proc scripts one run of the app.
type proc struct {
	exit      *ExitStatus    // exits at once with this status
	obeys     syscall.Signal // signal it dies of (SIGTERM or SIGKILL)
	onStarted func()         // called once started
}

// fakeSys records what the agent asks of the OS.
type fakeSys struct {
	// lingering is how many Leftovers calls still find a process; probes
	// counts the calls.
	lingering, probes int
	// mountPoll is how many device polls had happened when each target
	// was mounted.
	mountPoll map[string]int
	mu        sync.Mutex
	calls     []string
	devs      [][]BlockDevice // what BlockDevices returns on successive polls
	// driver holds back a device from BlockDevices until the module file
	// named for it is loaded, as the kernel adds a disk only once its
	// driver is in.
	driver map[string]string
	// opened counts the Probe calls per device; openedAt is how many
	// polls had happened at the first.
	opened, openedAt map[string]int
	// onLoad, when set, runs in each LoadModule call after it is recorded.
	onLoad   func(path string)
	poll     int
	info     map[string]blkid.Info
	procs    []proc
	started  int
	running  map[int]chan ExitStatus
	obeys    map[int]syscall.Signal
	failMod  map[string]error
	busy     bool // unmount of /persistent fails with EBUSY
	panicMod bool
	// failWrite makes WriteFile of a path fail.
	failWrite map[string]error
	// privs are what each StartApp was asked to run with.
	privs []Privileges
}

func (f *fakeSys) rec(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeSys) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeSys) Mount(source, target, fstype string, flags uintptr, data string) error {
	f.rec("mount %s %s %s %#x", source, target, fstype, flags)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mountPoll == nil {
		f.mountPoll = map[string]int{}
	}
	f.mountPoll[target] = f.poll
	return nil
}

func (f *fakeSys) Unmount(target string, flags int) error {
	f.rec("unmount %s", target)
	if f.busy && target == "/persistent" {
		return syscall.EBUSY
	}
	return nil
}

func (f *fakeSys) Sync()                         { f.rec("sync") }
func (f *fakeSys) Reboot(a Action) error         { f.rec("reboot %s", a); return nil }
func (f *fakeSys) SetHostname(name string) error { f.rec("hostname %s", name); return nil }
func (f *fakeSys) StepClock(d time.Duration) error {
	f.rec("step %s", d)
	return nil
}

func (f *fakeSys) WriteFile(path string, data []byte, perm os.FileMode) error {
	f.rec("write %s %q", path, data)
	return f.failWrite[path]
}

func (f *fakeSys) MkdirAll(path string, perm os.FileMode) error {
	f.rec("mkdir %s %o", path, perm)
	return nil
}

func (f *fakeSys) Chown(path string, uid, gid int) error {
	f.rec("chown %s %d:%d", path, uid, gid)
	return nil
}

func (f *fakeSys) LoadModule(path, params string) error {
	if f.panicMod {
		panic("boom")
	}
	f.rec("load %s", path)
	if f.onLoad != nil {
		f.onLoad(path)
	}
	return f.failMod[path]
}

func (f *fakeSys) BlockDevices() ([]BlockDevice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.devs) == 0 {
		return nil, nil
	}
	i := min(f.poll, len(f.devs)-1)
	f.poll++
	var devs []BlockDevice
	for _, d := range f.devs[i] {
		if mod, ok := f.driver[d.Name]; !ok || slices.Contains(f.calls, "load "+mod) {
			devs = append(devs, d)
		}
	}
	return devs, nil
}

func (f *fakeSys) Probe(name string) (blkid.Info, error) {
	f.mu.Lock()
	if f.opened == nil {
		f.opened = map[string]int{}
	}
	f.opened[name]++
	if f.openedAt == nil {
		f.openedAt = map[string]int{}
	}
	if _, ok := f.openedAt[name]; !ok {
		f.openedAt[name] = f.poll
	}
	f.mu.Unlock()
	if i, ok := f.info[name]; ok {
		return i, nil
	}
	return blkid.Info{}, blkid.ErrUnknown
}

func (f *fakeSys) StartApp(path string, argv, env []string, priv Privileges) (int, <-chan ExitStatus, error) {
	f.mu.Lock()
	f.privs = append(f.privs, priv)
	if f.started >= len(f.procs) {
		f.mu.Unlock()
		return 0, nil, errors.New("no more scripted runs")
	}
	p := f.procs[f.started]
	f.started++
	pid := 100 + f.started
	ch := make(chan ExitStatus, 1)
	if f.running == nil {
		f.running, f.obeys = map[int]chan ExitStatus{}, map[int]syscall.Signal{}
	}
	f.running[pid], f.obeys[pid] = ch, p.obeys
	f.calls = append(f.calls, fmt.Sprintf("start %s %s", strings.Join(argv, " "), strings.Join(env, " ")))
	f.mu.Unlock()
	if p.exit != nil {
		ch <- *p.exit
	}
	if p.onStarted != nil {
		p.onStarted()
	}
	return pid, ch, nil
}

func (f *fakeSys) Leftovers() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probes++
	if f.lingering > 0 {
		f.lingering--
		return 1, nil
	}
	return 0, nil
}

func (f *fakeSys) Kill(pid int, sig syscall.Signal) error {
	f.rec("kill %d %s", pid, sigName(sig))
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.running[pid]; ok && f.obeys[pid] == sig {
		delete(f.running, pid)
		ch <- ExitStatus{Signal: sig}
	}
	return nil
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGKILL:
		return "KILL"
	}
	return fmt.Sprint(int(s))
}

// consoleBuf captures console lines without their time prefix.
type consoleBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (c *consoleBuf) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.Write(p)
}

func (c *consoleBuf) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(c.b.String(), "\n"), "\n") {
		if l == "" {
			continue
		}
		out = append(out, strings.TrimPrefix(l, console.Prefix(0)))
	}
	return out
}

// has checks that want appear in got in this order (not necessarily
// adjacent).
func has(t *testing.T, what string, got, want []string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("%s: missing %q (in order) in\n  %s", what, want[i], strings.Join(got, "\n  "))
	}
}

// hasAll checks that got holds every line of want, in any order: for
// lines from work that runs at the same time (the ISO's and the
// persistent volume's mounts).
func hasAll(t *testing.T, what string, got, want []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s: missing %q in\n  %s", what, w, strings.Join(got, "\n  "))
		}
	}
}

func lacks(t *testing.T, what string, got []string, prefix string) {
	t.Helper()
	for _, g := range got {
		if strings.HasPrefix(g, prefix) {
			t.Errorf("%s: unexpected %q", what, g)
		}
	}
}
