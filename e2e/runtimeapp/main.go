// Command runtimeapp is the app of the e2e runtime scenario: it prints
// what a server sees of its account, capabilities, limits, time zone,
// name resolution and sysctls as "runtimeapp: ..." lines, writes to
// /persistent, $HOME and /tmp, and answers HTTP on :80 (a privileged port)
// with its uid until SIGTERM.
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// version is set with -ldflags -X by the spec's app.build; tagged by a
// file built only with the spec's build tag.
var (
	version = "unset"
	tagged  = "no"
)

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	say("build version %s tagged %s", version, tagged)
	say("uid %d gid %d euid %d groups %v", os.Getuid(), os.Getgid(), os.Geteuid(), groups())
	for _, k := range []string{"CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb", "NoNewPrivs"} {
		say("status %s %s", k, status(k))
	}
	say("env HOME=%s USER=%s LOGNAME=%s TZ=%s ZONEINFO=%s", os.Getenv("HOME"), os.Getenv("USER"), os.Getenv("LOGNAME"), os.Getenv("TZ"), os.Getenv("ZONEINFO"))
	if u, err := user.Current(); err != nil {
		say("user.Current: %v", err)
	} else {
		say("user.Current %s home %s", u.Username, u.HomeDir)
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		say("nofile: %v", err)
	} else {
		say("nofile soft %d hard %d", rl.Cur, rl.Max)
	}
	zones()
	if addrs, err := net.LookupHost("localhost"); err != nil {
		say("localhost: %v", err)
	} else {
		sort.Strings(addrs)
		say("localhost %s", strings.Join(addrs, " "))
	}
	if b, err := os.ReadFile("/proc/sys/net/core/somaxconn"); err != nil {
		say("somaxconn: %v", err)
	} else {
		say("somaxconn %s", strings.TrimSpace(string(b)))
	}
	for _, dir := range []string{os.Getenv("TINYBOOT_PERSISTENT"), os.Getenv("HOME"), os.TempDir()} {
		say("write %s: %s", dir, write(dir))
	}
	ln, err := net.Listen("tcp", ":80")
	if err != nil {
		say("listen :80: %v", err)
		<-sigs
		return
	}
	say("listening on :80")
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "uid %d\n", os.Getuid())
	}))
	<-sigs
	say("got SIGTERM")
}

func say(format string, args ...any) { fmt.Printf("runtimeapp: "+format+"\n", args...) }

func groups() []int {
	g, err := os.Getgroups()
	if err != nil {
		return nil
	}
	sort.Ints(g)
	return g
}

// status is one field of /proc/self/status.
func status(key string) string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "none"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "none"
}

// zones compares time.Local with Europe/Berlin loaded by name (Local is
// always called "Local", so its offsets in winter and summer tell) and
// loads another zone.
func zones() {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		say("load Europe/Berlin: %v", err)
		return
	}
	same := true
	for _, month := range []time.Month{time.January, time.July} {
		t := time.Date(2024, month, 1, 12, 0, 0, 0, time.UTC)
		ln, lo := t.In(time.Local).Zone()
		bn, bo := t.In(berlin).Zone()
		if ln != bn || lo != bo {
			same = false
		}
	}
	name, off := time.Now().Zone()
	say("local zone %s %d same-as-berlin %v", name, off, same)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		say("load America/New_York: %v", err)
		return
	}
	n, _ := time.Date(2024, time.January, 1, 12, 0, 0, 0, time.UTC).In(ny).Zone()
	say("new york zone %s", n)
}

// write creates and removes a file in dir.
func write(dir string) string {
	if dir == "" {
		return "no directory"
	}
	p := filepath.Join(dir, "runtimeapp-probe")
	if err := os.WriteFile(p, []byte("ok"), 0o600); err != nil {
		return err.Error()
	}
	return "ok"
}
