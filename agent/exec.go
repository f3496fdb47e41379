package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/tinyboot/tinyboot/internal/capability"
	"github.com/tinyboot/tinyboot/spec/baked"
	"golang.org/x/sys/unix"
)

// Privileges are what the app runs with besides argv and env: its
// account, the capabilities a non-root account keeps, and its rlimits.
// The zero value is root with everything, the kernel's limits.
type Privileges struct {
	// User is nil for root.
	User *baked.User `json:"user,omitempty"`
	// Caps are a non-root user's ambient (and so effective and permitted)
	// capabilities, and its whole bounding set. Root keeps every one.
	Caps capability.Set `json:"caps,omitempty"`
	// Limits are rlimits by spec name ("nofile"), soft = hard.
	Limits map[string]uint64 `json:"limits,omitempty"`
}

// zero reports whether p asks for nothing beyond a plain fork and exec.
func (p Privileges) zero() bool { return p.User == nil && len(p.Limits) == 0 }

// privileges are the app's, from the baked spec.
func (a *agent) privileges() (Privileges, error) {
	app := a.cfg.App
	p := Privileges{User: app.User, Limits: app.Limits}
	if app.User != nil {
		caps, err := capability.Parse(app.Capabilities)
		if err != nil {
			return Privileges{}, err
		}
		p.Caps = caps
	}
	return p, nil
}

// rlimits maps the spec's limit names to setrlimit(2) resources.
var rlimits = map[string]int{
	"cpu": unix.RLIMIT_CPU, "fsize": unix.RLIMIT_FSIZE, "data": unix.RLIMIT_DATA,
	"stack": unix.RLIMIT_STACK, "core": unix.RLIMIT_CORE, "nproc": unix.RLIMIT_NPROC,
	"nofile": unix.RLIMIT_NOFILE, "memlock": unix.RLIMIT_MEMLOCK, "as": unix.RLIMIT_AS,
	"locks": unix.RLIMIT_LOCKS, "sigpending": unix.RLIMIT_SIGPENDING,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE,
	"rtprio": unix.RLIMIT_RTPRIO, "rttime": unix.RLIMIT_RTTIME,
}

// execHelper is argv[0] of the agent binary when it runs as the app's
// launcher: Go's fork cannot drop the bounding set, set no_new_privs or
// rlimits between fork and exec, so the child runs the agent's own binary
// once more, which applies p and then executes the app in place (same
// pid). The agent itself keeps running as root with everything.
const execHelper = "tinyboot-exec"

// selfExe is the running agent binary.
const selfExe = "/proc/self/exe"

// helperArgv is how StartApp runs the app through the helper.
func helperArgv(p Privileges, path string, argv []string) ([]string, error) {
	plan, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode privileges: %w", err)
	}
	return append([]string{execHelper, string(plan), path}, argv...), nil
}

// IsExecHelper reports whether this process is the app's launcher
// rather than PID 1.
func IsExecHelper() bool { return len(os.Args) > 0 && os.Args[0] == execHelper && os.Getpid() != 1 }

// ExecHelper applies the privileges in os.Args[1] and executes the app,
// os.Args[2] with argv os.Args[3:]. It returns only on failure, having
// said why on stderr (the console), with status 127 as a shell would.
func ExecHelper() {
	err := execApp(os.Args[1:])
	fmt.Fprintf(os.Stderr, "tinyboot: app: %v\n", err)
	os.Exit(127)
}

func execApp(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("%s: want privileges, path and argv", execHelper)
	}
	var p Privileges
	if err := json.Unmarshal([]byte(args[0]), &p); err != nil {
		return fmt.Errorf("%s: privileges: %w", execHelper, err)
	}
	path, argv := args[1], args[2:]
	names := make([]string, 0, len(p.Limits))
	for n := range p.Limits {
		if _, ok := rlimits[n]; !ok {
			return fmt.Errorf("limit %s: unknown", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	// Capabilities, keep-caps and no_new_privs belong to a thread: the
	// one that executes the app must be the one that set them.
	runtime.LockOSThread()
	for _, n := range names {
		res, v := rlimits[n], p.Limits[n]
		// syscall's, not unix's: for RLIMIT_NOFILE it also stops Go from
		// restoring the soft limit it found at start-up in the exec.
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: v, Max: v}); err != nil {
			return fmt.Errorf("limit %s %d: %w", n, v, err)
		}
	}
	if p.User != nil {
		if err := dropToUser(p.User, p.Caps); err != nil {
			return err
		}
	}
	if err := unix.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

// dropToUser makes the calling thread u with only caps: the bounding set
// is cut to caps while still root, keep-caps carries the permitted set
// over setuid, capset narrows it to caps (effective, permitted,
// inheritable), and raising them as ambient makes them survive the exec
// of an ordinary file. no_new_privs then stops setuid files and file
// capabilities from giving back anything.
func dropToUser(u *baked.User, caps capability.Set) error {
	for _, c := range caps.Drop(lastCap()) {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	groups := make([]int, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = int(g)
	}
	// syscall's Setgroups, Setgid and Setuid change every thread of the
	// process, as POSIX says they must.
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups %v: %w", u.Groups, err)
	}
	if err := syscall.Setgid(int(u.GID)); err != nil {
		return fmt.Errorf("setgid %d: %w", u.GID, err)
	}
	if err := syscall.Setuid(int(u.UID)); err != nil {
		return fmt.Errorf("setuid %d: %w", u.UID, err)
	}
	w := caps.Words()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: w[0], Permitted: w[0], Inheritable: w[0]},
		{Effective: w[1], Permitted: w[1], Inheritable: w[1]},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset %s: %w", caps, err)
	}
	for c := range 64 {
		if !caps.Has(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raise ambient capability %d: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	return nil
}

// lastCap is the running kernel's highest capability number; a kernel
// that does not say is taken to know the ones this agent names.
func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return n
		}
	}
	return len(capability.Names) - 1
}
