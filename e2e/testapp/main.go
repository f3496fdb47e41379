// Command testapp is the app the end-to-end tests put in their images.
// It prints what it sees of the machine as "testapp: ..." lines on the
// console, which the tests grep, and then behaves as -mode says:
//
//	serve  wait for SIGTERM, then write a final marker and exit 0
//	exit   exit at once with -exit-code
//	panic  panic (the Go runtime exits with status 2)
//	crash  kill itself with SIGKILL, printing only its first line
//	hold   keep a file in $TINYBOOT_PERSISTENT open and ignore SIGTERM
//
// In serve mode, -hold starts a copy of itself in hold mode (in its own
// session, so it outlives the app) and -ignore-term makes the app ignore
// SIGTERM, as a hung app would. -listen serves HTTP (see serveHTTP): the
// machine's name, and package guest's Reboot and PowerOff on request.
// -tick D makes it write a "tick" file in
// $TINYBOOT_PERSISTENT every D, saying "testapp: tick N writing" before
// and "testapp: tick N written" after each write (a frozen volume blocks
// between the two). -env-digest A,B prints "testapp: env A sha256 <hex>"
// (or "testapp: env A none") for each name: proof the value arrived that
// does not put it on the console.
//
// Lines, in order (one per fact; absent facts say "none"):
//
//	testapp: uptime 12.345                  seconds since boot, from /proc/uptime
//	testapp: mode serve
//	testapp: time 1700000000                time.Now().Unix()
//	testapp: addr eth0 10.0.2.15/24         one per IPv4 address outside loopback
//	testapp: route default via 10.0.2.2 dev eth0
//	testapp: nameserver 10.0.2.3            one per /etc/resolv.conf entry
//	testapp: iso /iso marker "..."          $TINYBOOT_ISO and the -iso-marker file in it
//	testapp: persistent /persistent         $TINYBOOT_PERSISTENT
//	testapp: found final "boot 1"           what the last boot left (when persistent)
//	testapp: found lastwrite "boot 1 ..."
//	testapp: boot count 2
//	testapp: wrote lastwrite "boot 2 ..."
//	testapp: ready
//
// and on SIGTERM: "testapp: got SIGTERM", "testapp: wrote final ...",
// "testapp: finished". Every write to $TINYBOOT_PERSISTENT is fsynced,
// file and directory, before it is reported.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tinyboot/tinyboot/guest"
)

func main() {
	mode := flag.String("mode", "serve", "serve, exit, panic or crash")
	code := flag.Int("exit-code", 0, "exit status in -mode exit")
	isoMarker := flag.String("iso-marker", "marker.txt", "file under $TINYBOOT_ISO whose content is printed")
	hold := flag.Bool("hold", false, "in serve mode, leave a process behind that keeps a file in $TINYBOOT_PERSISTENT open")
	ignoreTerm := flag.Bool("ignore-term", false, "in serve mode, ignore SIGTERM")
	listen := flag.String("listen", "", "in serve mode, serve HTTP on this address")
	tick := flag.Duration("tick", 0, "in serve mode, write $TINYBOOT_PERSISTENT/tick this often")
	envDigest := flag.String("env-digest", "", "comma-separated env names whose values' SHA-256 to print")
	flag.Parse()
	// First of all: a SIGTERM that comes while the app is still starting
	// must end in the orderly shutdown below, not in Go's default death.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)

	say("uptime %s", uptime())
	say("mode %s", *mode)
	switch *mode {
	case "crash":
		// SIGKILL cannot be caught: the agent sees "killed by signal 9".
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		forever()
	case "panic":
		panic("testapp: panicking at start as asked")
	case "hold":
		holdPersistent()
	}
	facts(*isoMarker)
	if *envDigest != "" {
		digests(strings.Split(*envDigest, ","))
	}
	pers := os.Getenv("TINYBOOT_PERSISTENT")
	boot := 0
	if pers != "" {
		boot = persist(pers)
	}
	switch *mode {
	case "exit":
		say("exiting with status %d", *code)
		os.Exit(*code)
	case "serve":
	default:
		say("unknown mode %q", *mode)
		os.Exit(64)
	}

	if *hold {
		if err := startHolder(); err != nil {
			say("start holder: %v", err)
		}
	}
	if *tick > 0 && pers != "" {
		go ticks(pers, *tick)
	}
	if *listen != "" {
		// guest.Context catches SIGTERM from here on, as sigs does.
		ctx := guest.Context()
		if err := serveHTTP(*listen); err != nil {
			say("listen: %v", err)
		}
		say("ready")
		<-ctx.Done()
		say("context cancelled")
	} else {
		say("ready")
	}
	<-sigs
	say("got SIGTERM")
	if *ignoreTerm {
		say("ignoring SIGTERM")
		forever()
	}
	if pers != "" {
		v := fmt.Sprintf("boot %d", boot)
		if err := writeSynced(pers, "final", v); err != nil {
			say("write final: %v", err)
		} else {
			say("wrote final %q", v)
		}
	}
	say("finished")
}

// say prints one console line; stdout is the console, unbuffered.
func say(format string, args ...any) {
	fmt.Printf("testapp: "+format+"\n", args...)
}

func uptime() string {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return "none"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "none"
	}
	return f[0]
}

// facts prints the machine as the app sees it.
func facts(isoMarker string) {
	say("time %d", time.Now().Unix())
	addrs := 0
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		as, _ := ifc.Addrs()
		for _, a := range as {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				say("addr %s %s", ifc.Name, ipn)
				addrs++
			}
		}
	}
	if addrs == 0 {
		say("addr none")
	}
	if r, err := defaultRoute(); err != nil {
		say("route none (%v)", err)
	} else {
		say("route %s", r)
	}
	ns, err := nameservers("/etc/resolv.conf")
	if err != nil || len(ns) == 0 {
		say("nameserver none (%v)", err)
	}
	for _, n := range ns {
		say("nameserver %s", n)
	}
	if iso := os.Getenv("TINYBOOT_ISO"); iso == "" {
		say("iso none")
	} else {
		b, err := os.ReadFile(filepath.Join(iso, isoMarker))
		if err != nil {
			say("iso %s marker none (%v)", iso, err)
		} else {
			say("iso %s marker %q", iso, strings.TrimSpace(string(b)))
		}
	}
	if p := os.Getenv("TINYBOOT_PERSISTENT"); p == "" {
		say("persistent none")
	} else {
		say("persistent %s", p)
	}
}

// defaultRoute reads the IPv4 default route from /proc/net/route, where
// addresses are hex in the host's (little-endian) byte order.
func defaultRoute() (string, error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 3 || fl[1] != "00000000" {
			continue
		}
		gw, err := strconv.ParseUint(fl[2], 16, 32)
		if err != nil {
			return "", fmt.Errorf("gateway %q: %w", fl[2], err)
		}
		ip := make(net.IP, 4)
		binary.LittleEndian.PutUint32(ip, uint32(gw))
		return fmt.Sprintf("default via %s dev %s", ip, fl[0]), nil
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no default route")
}

func nameservers(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
			out = append(out, f[1])
		}
	}
	return out, nil
}

// persist reports what earlier boots left in dir, counts this boot and
// writes the lastwrite marker; it returns this boot's number.
func persist(dir string) int {
	for _, name := range []string{"final", "lastwrite"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			say("found %s none", name)
		} else {
			say("found %s %q", name, string(b))
		}
	}
	n := 0
	if b, err := os.ReadFile(filepath.Join(dir, "boots")); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	n++
	if err := writeSynced(dir, "boots", strconv.Itoa(n)); err != nil {
		say("boot count: %v", err)
	}
	say("boot count %d", n)
	v := fmt.Sprintf("boot %d at %d", n, time.Now().UnixNano())
	if err := writeSynced(dir, "lastwrite", v); err != nil {
		say("write lastwrite: %v", err)
	} else {
		say("wrote lastwrite %q", v)
	}
	return n
}

// writeSynced replaces dir/name with value durably: a temporary file is
// written and fsynced, renamed over the old one and the directory fsynced.
func writeSynced(dir, name, value string) error {
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if _, err := f.WriteString(value); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// digests prints the SHA-256 of each named variable's value.
func digests(names []string) {
	for _, n := range names {
		v, ok := os.LookupEnv(n)
		if !ok {
			say("env %s none", n)
			continue
		}
		sum := sha256.Sum256([]byte(v))
		say("env %s sha256 %s", n, hex.EncodeToString(sum[:]))
	}
	if h, err := os.Hostname(); err == nil {
		say("hostname %s", h)
	}
}

// ticks writes dir/tick every d, saying so before and after each write.
func ticks(dir string, d time.Duration) {
	for n := 1; ; n++ {
		time.Sleep(d)
		say("tick %d writing", n)
		if err := writeSynced(dir, "tick", strconv.Itoa(n)); err != nil {
			say("tick %d: %v", n, err)
			continue
		}
		say("tick %d written", n)
	}
}

// startHolder starts a copy of the app in hold mode in a session of its
// own, which the app does not wait for: it stays when the app has gone.
func startHolder() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find myself: %w", err)
	}
	_, err = syscall.ForkExec(self, []string{self, "-mode", "hold"}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return fmt.Errorf("start holder: %w", err)
	}
	return nil
}

// holdPersistent keeps a file in $TINYBOOT_PERSISTENT open (and its
// working directory there) until it is killed, ignoring SIGTERM: what a
// careless helper process does to a volume that must be unmounted.
func holdPersistent() {
	signal.Ignore(syscall.SIGTERM)
	dir := os.Getenv("TINYBOOT_PERSISTENT")
	if dir == "" {
		say("hold: no persistent volume")
		forever()
	}
	path := filepath.Join(dir, "held")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		say("hold: %v", err)
		forever()
	}
	if err := os.Chdir(dir); err != nil {
		say("hold: %v", err)
	}
	fmt.Fprintf(f, "held at %d\n", time.Now().UnixNano())
	say("holding %s (pid %d)", path, os.Getpid())
	forever()
}

// forever blocks for good. A sleep rather than an empty select: with no
// other goroutine the runtime would call that a deadlock and crash.
func forever() {
	for {
		time.Sleep(time.Hour)
	}
}
