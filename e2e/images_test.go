package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/internal/qemu"
	"github.com/tinyboot/tinyboot/internal/testcache"
	"github.com/tinyboot/tinyboot/spec"
)

// Bounds on the waits. TCG on a shared two-core machine is slow and
// uneven: a boot that takes 15 s when the machine is idle can take
// minutes under load, and timing is not what these tests check.
const (
	bootWait  = 180 * time.Second // power on to the app's first line
	stepWait  = 60 * time.Second  // one step of a running machine
	exitWait  = 90 * time.Second  // shutdown request to QEMU's exit
	buildWait = 10 * time.Minute  // an image build, cold kernel cache included
	slotWait  = 15 * time.Minute  // waiting for a VM slot
)

// maxVMs bounds the machines booted at once: each takes a core under TCG.
const maxVMs = 2

var vmSlots = make(chan struct{}, maxVMs)

// workDir holds the images, specs and payload the tests share; TestMain
// creates and removes it.
var workDir string

// payloadMarker is the content of the marker file every test image ships
// at /iso/e2e/marker.txt.
const payloadMarker = "tinyboot e2e payload"

func TestMain(m *testing.M) {
	// Builds use the tests' own cache, never the user's.
	if err := testcache.Use(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "tinyboot-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	workDir = dir
	code := run(m)
	printTimings()
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(m *testing.M) int {
	if err := os.MkdirAll(filepath.Join(workDir, "payload"), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(workDir, "payload", "marker.txt"), []byte(payloadMarker+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// imageOpts are the parts of a test image's spec that differ between
// scenarios. The zero value is the test app in serve mode, no persistent
// volume, DHCP with the default wait and no SNTP servers (QEMU's DHCP
// offers none, so the clock is left alone).
type imageOpts struct {
	Args        []string
	Restart     string
	OnExit      string
	StopTimeout spec.Duration
	Persistent  *spec.Persistent
	NTP         []string // servers; nil means none
	TimeWait    spec.Duration
	RunFrom     string // app.run_from
}

// testSpecYAML renders the spec of a test image. It goes through YAML and
// spec.Parse, as a user's file would.
func testSpecYAML(t testing.TB, o imageOpts) string {
	t.Helper()
	appDir, err := filepath.Abs("testapp")
	if err != nil {
		t.Fatal(err)
	}
	ntp := o.NTP
	if ntp == nil {
		ntp = []string{}
	}
	s := spec.Spec{
		Name: "e2e",
		Kernel: spec.Kernel{
			Package: testcache.Kernel(),
			// panic=-1: a kernel panic reboots at once, which ends QEMU
			// under -no-reboot instead of hanging until the test's bound.
			Cmdline: []string{"console=ttyS0", "panic=-1"},
		},
		App: spec.App{
			Go:          appDir,
			Args:        append([]string{"-iso-marker", "e2e/marker.txt"}, o.Args...),
			Restart:     o.Restart,
			OnExit:      o.OnExit,
			StopTimeout: o.StopTimeout,
			RunFrom:     o.RunFrom,
		},
		Files:      []spec.File{{Src: filepath.Join(workDir, "payload"), Dst: "/e2e"}},
		Persistent: o.Persistent,
	}
	b, err := yaml.Marshal(&s)
	if err != nil {
		t.Fatalf("marshal spec: %v", err)
	}
	// The time section is written apart: spec.Time's omitempty would drop
	// an empty ntp list, and "ntp: []" (DHCP-offered servers only) means
	// something else than no key (the default pool).
	var tm struct {
		Time struct {
			NTP  []string `yaml:"ntp"`
			Wait string   `yaml:"wait,omitempty"`
		} `yaml:"time"`
	}
	tm.Time.NTP = ntp
	if o.TimeWait != 0 {
		tm.Time.Wait = o.TimeWait.String()
	}
	tb, err := yaml.Marshal(&tm)
	if err != nil {
		t.Fatalf("marshal spec: %v", err)
	}
	return string(b) + string(tb)
}

// images caches built images by spec text, so scenarios with the same
// spec share one build.
var images struct {
	mu    sync.Mutex
	built map[string]*imageBuild
	// build serialises builds: they share the kernel and Go caches, and
	// two at once would only compete for the two cores.
	build sync.Mutex
}

type imageBuild struct {
	once sync.Once
	path string
	err  error
}

// kernelPin is resolved once per test binary; see exampleLock.
var kernelPin struct {
	once sync.Once
	lock *compose.Lock
	err  error
}

// exampleLock pins the kernel packages of every test image to what the
// test kernel package (testcache.Kernel, linux-image-amd64 unless
// TINYBOOT_TEST_KERNEL says otherwise) resolves to now, once, so that every
// image of the run boots the same kernel and later builds are offline. No
// lock file is read: a committed or left-over lock would pin a version
// Debian's mirror drops once a newer security update lands.
func exampleLock(t testing.TB) *compose.Lock {
	t.Helper()
	kernelPin.once.Do(func() {
		name := testcache.Kernel()
		a, err := compose.NewArchiveClient(nil, compose.Options{CacheDir: testcache.Dir()})
		if err != nil {
			kernelPin.err = err
			return
		}
		r := &kernel.Resolver{CacheDir: testcache.Dir(), Archive: a}
		k, err := r.Package(context.Background(), name, nil)
		if err != nil {
			kernelPin.err = err
			return
		}
		kernelPin.lock = &compose.Lock{Version: compose.LockVersion, Kernel: name, Packages: k.Packages}
	})
	if kernelPin.err != nil {
		t.Fatalf("resolve the test images' kernel: %v", kernelPin.err)
	}
	return kernelPin.lock
}

// buildImage builds the spec text (as if read from a tinyboot.yaml in
// dir, "" for workDir) once per test binary and returns the image path.
func buildImage(t testing.TB, text, dir string) string {
	t.Helper()
	// The composer writes the ISO and the ESP itself: the stub is the only
	// host file it needs beyond the Go toolchain running this test.
	RequireTools(t, ToolStub)
	sum := sha256.Sum256([]byte(dir + "\x00" + text))
	key := hex.EncodeToString(sum[:8])
	images.mu.Lock()
	if images.built == nil {
		images.built = map[string]*imageBuild{}
	}
	ib, ok := images.built[key]
	if !ok {
		ib = &imageBuild{}
		images.built[key] = ib
	}
	images.mu.Unlock()
	ib.once.Do(func() {
		images.build.Lock()
		defer images.build.Unlock()
		ib.path, ib.err = compileImage(t, text, dir, key)
	})
	if ib.err != nil {
		t.Fatalf("build image %s: %v\nspec:\n%s", key, ib.err, text)
	}
	return ib.path
}

func compileImage(t testing.TB, text, dir, key string) (string, error) {
	if dir == "" {
		dir = filepath.Join(workDir, "spec-"+key)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, "tinyboot.yaml")
	s, diags := spec.Parse(path, []byte(text))
	if diags.HasErrors() {
		var b strings.Builder
		diags.WriteHuman(&b)
		return "", fmt.Errorf("spec is not valid:\n%s", b.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildWait)
	defer cancel()
	start := time.Now()
	// The pins go through a lock file and --locked's policy, the code path
	// `tbcompose build --locked` takes.
	// Every image boots the one pinned kernel, whatever package its spec
	// names (the example names linux-image-amd64 whatever the suite runs).
	lock, err := pinnedLock(t, s, filepath.Join(workDir, key+".lock"))
	if err != nil {
		return "", err
	}
	res, err := compose.Build(ctx, s.WithDefaults(), compose.Options{
		Output: filepath.Join(workDir, key+".iso"),
		Lock:   lock,
	})
	if err != nil {
		return "", err
	}
	t.Logf("built image %s (%d KiB) in %v", key, res.Size>>10, time.Since(start).Round(time.Millisecond))
	return res.Output, nil
}

// pinnedLock writes the run's kernel pin as s's lock at lockPath and
// returns the options that build from it as --locked does.
func pinnedLock(t testing.TB, s *spec.Spec, lockPath string) (compose.LockOptions, error) {
	pin := *exampleLock(t)
	pin.Kernel = s.Kernel.Package
	if err := compose.WriteLock(lockPath, &pin); err != nil {
		return compose.LockOptions{}, err
	}
	return compose.LockOptions{Path: lockPath, Mode: compose.LockFrozen}, nil
}

// testImage builds (or reuses) the test app image for o.
func testImage(t testing.TB, o imageOpts) string {
	t.Helper()
	return buildImage(t, testSpecYAML(t, o), "")
}

// takeVMSlot waits for one of the maxVMs slots (skipping in -short mode,
// where nothing boots); the caller gives it back with <-vmSlots.
func takeVMSlot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a machine under QEMU (tens of seconds under TCG)")
	}
	select {
	case vmSlots <- struct{}{}:
	case <-time.After(slotWait):
		t.Fatalf("no VM slot free after %v", slotWait)
	}
}

// boot starts a machine once one of the maxVMs slots is free; the slot is
// given back when the machine ends.
func boot(t *testing.T, cfg qemu.Config) *Machine {
	t.Helper()
	takeVMSlot(t)
	var once sync.Once
	release := func() { once.Do(func() { <-vmSlots }) }
	t.Cleanup(release)
	noteStart(t)
	ctx, cancel := context.WithTimeout(context.Background(), stepWait)
	defer cancel()
	m := Boot(t, ctx, cfg)
	go func() {
		<-m.VM.Done()
		release()
	}()
	return m
}

// newDisk makes a fresh persistent volume image of fs labelled label.
func newDisk(t *testing.T, fs, label string) string {
	t.Helper()
	tool := "mkfs." + fs
	RequireTools(t, tool)
	path := filepath.Join(t.TempDir(), fs+".img")
	size := int64(64 << 20)
	if fs == spec.FSBtrfs {
		size = 128 << 20 // mkfs.btrfs refuses less than 109 MiB
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath(tool)
	if err != nil {
		bin = filepath.Join("/usr/sbin", tool) // not on every PATH; RequireTools found it
	}
	args := []string{"-L", label, path}
	if fs == spec.FSExt4 {
		args = append([]string{"-q", "-F"}, args...)
	} else {
		args = append([]string{"-q"}, args...)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return path
}

// freePort returns a TCP port free on the host's loopback right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// consoleText is the serial console so far, without terminal escapes.
func (m *Machine) consoleText() string {
	m.t.Helper()
	b, err := os.ReadFile(m.LogPath)
	if err != nil {
		m.t.Fatalf("read console log: %v", err)
	}
	return stripEscapes(string(b))
}

// lines returns the console lines matching pattern.
func (m *Machine) lines(pattern string) []string {
	re := regexp.MustCompile(pattern)
	var out []string
	for _, l := range strings.Split(m.consoleText(), "\n") {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// requireLines fails the test for every pattern no console line matches.
func (m *Machine) requireLines(patterns ...string) {
	m.t.Helper()
	for _, p := range patterns {
		if len(m.lines(p)) == 0 {
			m.t.Errorf("no console line matches %q", p)
		}
	}
}

// refuseLines fails the test for every pattern some console line matches.
func (m *Machine) refuseLines(patterns ...string) {
	m.t.Helper()
	for _, p := range patterns {
		if ls := m.lines(p); len(ls) > 0 {
			m.t.Errorf("console line %q matches %q, which must not appear", ls[0], p)
		}
	}
}

// submatch returns the first group of pattern in line.
func submatch(t testing.TB, pattern, line string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(line)
	if len(m) < 2 {
		t.Fatalf("line %q does not match %q", line, pattern)
	}
	return m[1]
}

// stampRE matches the agent's "tinyboot: [  SSSS.mmm] " prefix.
var stampRE = regexp.MustCompile(`tinyboot: \[\s*(\d+)\.(\d{3})\]`)

// stamp is the time since boot an agent console line carries.
func stamp(t testing.TB, line string) time.Duration {
	t.Helper()
	m := stampRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("line %q has no agent time stamp", line)
	}
	s, _ := strconv.Atoi(m[1])
	ms, _ := strconv.Atoi(m[2])
	return time.Duration(s)*time.Second + time.Duration(ms)*time.Millisecond
}

// expectApp waits for the test app's first line and records the guest
// time from the kernel's start to it.
func expectApp(t *testing.T, m *Machine) {
	t.Helper()
	line := m.Expect(context.Background(), `testapp: uptime \d`, bootWait)
	up, err := strconv.ParseFloat(submatch(t, `testapp: uptime ([0-9.]+)`, line), 64)
	if err != nil {
		t.Fatalf("uptime in %q: %v", line, err)
	}
	noteGuest(t, time.Duration(up*float64(time.Second)))
}

// timing is one scenario's measurements for the summary table.
type timing struct {
	start time.Time       // the scenario's first machine got its VM slot
	wall  time.Duration   // from start to the scenario's end
	guest []time.Duration // kernel start to the app's first line, per boot
}

var timings struct {
	mu sync.Mutex
	m  map[string]*timing
}

func timingOf(name string) *timing {
	if timings.m == nil {
		timings.m = map[string]*timing{}
	}
	tm := timings.m[name]
	if tm == nil {
		tm = &timing{}
		timings.m[name] = tm
	}
	return tm
}

// noteGuest records a boot's guest time to the app.
func noteGuest(t *testing.T, d time.Duration) {
	t.Logf("guest time from kernel start to the app: %v", d)
	timings.mu.Lock()
	defer timings.mu.Unlock()
	tm := timingOf(t.Name())
	tm.guest = append(tm.guest, d)
}

// timeScenario records t's wall time when it ends: from its first
// machine's start (so the time spent building images or queueing for a
// VM slot is left out) to the end of the test.
func timeScenario(t *testing.T) {
	t.Cleanup(func() {
		timings.mu.Lock()
		defer timings.mu.Unlock()
		tm := timingOf(t.Name())
		if tm.start.IsZero() {
			return
		}
		tm.wall = time.Since(tm.start)
		t.Logf("wall time from the first boot: %v", tm.wall.Round(time.Millisecond))
	})
}

// noteStart marks when t's first machine starts.
func noteStart(t *testing.T) {
	timings.mu.Lock()
	defer timings.mu.Unlock()
	if tm := timingOf(t.Name()); tm.start.IsZero() {
		tm.start = time.Now()
	}
}

// printTimings writes the summary table after the run.
func printTimings() {
	timings.mu.Lock()
	defer timings.mu.Unlock()
	if len(timings.m) == 0 {
		return
	}
	names := make([]string, 0, len(timings.m))
	for n := range timings.m {
		names = append(names, n)
	}
	sort.Strings(names)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "scenario\twall from first boot\tguest kernel→app, per boot")
	for _, n := range names {
		tm := timings.m[n]
		var g []string
		for _, d := range tm.guest {
			g = append(g, d.Round(10*time.Millisecond).String())
		}
		fmt.Fprintf(w, "%s\t%v\t%s\n", n, tm.wall.Round(100*time.Millisecond), strings.Join(g, ", "))
	}
	w.Flush()
}
