// Package capability names the Linux capabilities, for the spec's
// app.capabilities (validated on any build host) and the agent (which
// applies them). The numbers are the kernel's ABI
// (include/uapi/linux/capability.h) and never change; x/sys/unix has them
// only on Linux, where the spec must also be checked elsewhere.
package capability

import (
	"fmt"
	"slices"
	"strings"
)

// Names holds every capability's name at its number.
var Names = []string{
	"CAP_CHOWN",              // 0
	"CAP_DAC_OVERRIDE",       // 1
	"CAP_DAC_READ_SEARCH",    // 2
	"CAP_FOWNER",             // 3
	"CAP_FSETID",             // 4
	"CAP_KILL",               // 5
	"CAP_SETGID",             // 6
	"CAP_SETUID",             // 7
	"CAP_SETPCAP",            // 8
	"CAP_LINUX_IMMUTABLE",    // 9
	"CAP_NET_BIND_SERVICE",   // 10
	"CAP_NET_BROADCAST",      // 11
	"CAP_NET_ADMIN",          // 12
	"CAP_NET_RAW",            // 13
	"CAP_IPC_LOCK",           // 14
	"CAP_IPC_OWNER",          // 15
	"CAP_SYS_MODULE",         // 16
	"CAP_SYS_RAWIO",          // 17
	"CAP_SYS_CHROOT",         // 18
	"CAP_SYS_PTRACE",         // 19
	"CAP_SYS_PACCT",          // 20
	"CAP_SYS_ADMIN",          // 21
	"CAP_SYS_BOOT",           // 22
	"CAP_SYS_NICE",           // 23
	"CAP_SYS_RESOURCE",       // 24
	"CAP_SYS_TIME",           // 25
	"CAP_SYS_TTY_CONFIG",     // 26
	"CAP_MKNOD",              // 27
	"CAP_LEASE",              // 28
	"CAP_AUDIT_WRITE",        // 29
	"CAP_AUDIT_CONTROL",      // 30
	"CAP_SETFCAP",            // 31
	"CAP_MAC_OVERRIDE",       // 32
	"CAP_MAC_ADMIN",          // 33
	"CAP_SYSLOG",             // 34
	"CAP_WAKE_ALARM",         // 35
	"CAP_BLOCK_SUSPEND",      // 36
	"CAP_AUDIT_READ",         // 37
	"CAP_PERFMON",            // 38
	"CAP_BPF",                // 39
	"CAP_CHECKPOINT_RESTORE", // 40
}

// Lookup returns the number of the capability called name
// ("CAP_NET_BIND_SERVICE").
func Lookup(name string) (int, bool) {
	i := slices.Index(Names, name)
	return i, i >= 0
}

// Set is a set of capabilities as the kernel's 64-bit masks hold them.
type Set uint64

// Parse turns names into a Set; an unknown name is an error naming it.
func Parse(names []string) (Set, error) {
	var s Set
	for _, n := range names {
		c, ok := Lookup(n)
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		s |= 1 << c
	}
	return s, nil
}

// Has reports whether c is in s.
func (s Set) Has(c int) bool { return c >= 0 && c < 64 && s&(1<<c) != 0 }

// Drop lists, in order, the capabilities up to last (the running kernel's
// /proc/sys/kernel/cap_last_cap) that are not in s: what must leave the
// bounding set so that s is all the app can ever hold.
func (s Set) Drop(last int) []int {
	var out []int
	for c := 0; c <= last && c < 64; c++ {
		if !s.Has(c) {
			out = append(out, c)
		}
	}
	return out
}

// Words splits s into the two 32-bit words of capget(2)/capset(2)'s
// version 3 data.
func (s Set) Words() [2]uint32 { return [2]uint32{uint32(s), uint32(s >> 32)} }

// String lists s's names, comma-separated, "none" when empty.
func (s Set) String() string {
	var names []string
	for c := range 64 {
		if !s.Has(c) {
			continue
		}
		if c < len(Names) {
			names = append(names, Names[c])
		} else {
			names = append(names, fmt.Sprintf("cap_%d", c))
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}
