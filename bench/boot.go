package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tinyboot/tinyboot/internal/qemu"
)

// stampedLine is a console line with the host time it arrived, since the
// machine was started.
type stampedLine struct {
	At   time.Duration
	Text string
}

// stamper timestamps console lines as QEMU writes them; the console's own
// line buffer has no times.
type stamper struct {
	start time.Time
	mu    sync.Mutex
	buf   []byte
	lines []stampedLine
}

func (s *stamper) Write(p []byte) (int, error) {
	at := time.Since(s.start)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			break
		}
		s.lines = append(s.lines, stampedLine{At: at, Text: strings.TrimRight(string(s.buf[:i]), "\r")})
		s.buf = s.buf[i+1:]
	}
	return len(p), nil
}

func (s *stamper) snapshot() []stampedLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stampedLine(nil), s.lines...)
}

// bootRun is one boot, host and guest views.
type bootRun struct {
	// Host wall times from QEMU's start.
	Loader    time.Duration // firmware starts the boot entry
	FirstInit time.Duration // the agent's first console line
	App       time.Duration // the app's first line
	// Guest times from the agent's console lines.
	Guest guestTimes
	Lines []stampedLine
}

// guestTimes are the agent's own measurements, in guest time.
type guestTimes struct {
	InitStart  time.Duration // time since boot when /init started
	Setup      time.Duration // mounting /proc, /sys, ...
	Ready      time.Duration // the boot line's total
	Modules    time.Duration
	Storage    time.Duration
	Network    time.Duration // DHCP, concurrent with Storage
	Time       time.Duration // SNTP
	AppStarted time.Duration // time since boot of "app: started"
}

// InitToApp is the guest time from /init to the app's start.
func (g guestTimes) InitToApp() time.Duration { return g.AppStarted - g.InitStart }

// DHCPWait is the part of the DHCP wait the storage search did not hide.
func (g guestTimes) DHCPWait() time.Duration { return max(0, g.Network-g.Storage) }

// AgentOwn is what the agent adds between /init and the app besides
// module loading and the DHCP and SNTP waits.
func (g guestTimes) AgentOwn() time.Duration {
	return g.InitToApp() - g.Modules - g.DHCPWait() - g.Time
}

var (
	agentLineRE = regexp.MustCompile(`^tinyboot: \[\s*(\d+)\.(\d{3})\] (.*)$`)
	setupRE     = regexp.MustCompile(`^setup: mounted filesystems in (\S+)$`)
	readyRE     = regexp.MustCompile(`^boot: ready in (\S+) \(modules (\S+), storage (\S+), network (\S+), time (\S+)\)$`)
	appRE       = regexp.MustCompile(`^app: started `)
)

// parseGuest reads the agent's times from its console lines.
func parseGuest(lines []string) (guestTimes, error) {
	var g guestTimes
	var seenSetup, seenReady, seenApp bool
	for _, l := range lines {
		m := agentLineRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		sec, _ := strconv.ParseInt(m[1], 10, 64)
		milli, _ := strconv.ParseInt(m[2], 10, 64)
		at := time.Duration(sec)*time.Second + time.Duration(milli)*time.Millisecond
		msg := m[3]
		switch {
		case !seenSetup && setupRE.MatchString(msg):
			d, err := time.ParseDuration(setupRE.FindStringSubmatch(msg)[1])
			if err != nil {
				return g, fmt.Errorf("setup line %q: %w", l, err)
			}
			g.Setup, g.InitStart, seenSetup = d, at-d, true
		case !seenReady && readyRE.MatchString(msg):
			sm := readyRE.FindStringSubmatch(msg)
			for i, dst := range []*time.Duration{&g.Ready, &g.Modules, &g.Storage, &g.Network, &g.Time} {
				d, err := time.ParseDuration(sm[i+1])
				if err != nil {
					return g, fmt.Errorf("boot line %q: %w", l, err)
				}
				*dst = d
			}
			seenReady = true
		case !seenApp && appRE.MatchString(msg):
			g.AppStarted, seenApp = at, true
		}
	}
	if !seenSetup || !seenReady || !seenApp {
		return g, fmt.Errorf("agent lines missing (setup %v, boot ready %v, app started %v)", seenSetup, seenReady, seenApp)
	}
	return g, nil
}

var (
	loaderRE = regexp.MustCompile(`BdsDxe: starting `)
	initRE   = regexp.MustCompile(`^tinyboot: \[`)
)

// boot starts image under TCG with disk attached, waits for a console
// line matching appLine, and quits the machine.
func boot(ctx context.Context, image, disk string, appLine *regexp.Regexp, timeout time.Duration) (*bootRun, error) {
	return bootWith(ctx, qemu.Config{Image: image, Disks: []string{disk}}, appLine, timeout)
}

// bootWith boots cfg (under TCG, 512 MiB, no reboot) as boot does.
func bootWith(ctx context.Context, cfg qemu.Config, appLine *regexp.Regexp, timeout time.Duration) (*bootRun, error) {
	r, texts, err := bootUntil(ctx, cfg, appLine, timeout)
	if err != nil {
		return nil, err
	}
	if r.Guest, err = parseGuest(texts); err != nil {
		return nil, fmt.Errorf("boot %s: %w", bootName(cfg), err)
	}
	return r, nil
}

// bootName is what a boot of cfg is called in errors.
func bootName(cfg qemu.Config) string {
	if cfg.Image != "" {
		return cfg.Image
	}
	return cfg.Kernel
}

// bootUntil boots cfg until a console line matches line and returns the
// host times and the console's lines; the guest's own times are left to
// the caller (the floor image has no agent to report them).
func bootUntil(ctx context.Context, cfg qemu.Config, appLine *regexp.Regexp, timeout time.Duration) (*bootRun, []string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st := &stamper{start: time.Now()}
	image := bootName(cfg)
	cfg.Accel, cfg.Memory, cfg.NoReboot, cfg.Console = qemu.AccelTCG, "512M", true, st
	vm, err := qemu.Start(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("start QEMU: %w", err)
	}
	defer func() {
		qctx, qcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer qcancel()
		_ = vm.Quit(qctx)
	}()
	if _, err := vm.Console.WaitForLine(ctx, appLine); err != nil {
		return nil, nil, fmt.Errorf("boot %s: %w; console tail:\n%s", image, err, strings.Join(vm.Console.Tail(20), "\n"))
	}
	// The stamper and the console are fed the same writes in an order the
	// qemu package does not promise, so give the stamper a moment.
	r := &bootRun{}
	for range 100 {
		r.Lines = st.snapshot()
		if slices.ContainsFunc(r.Lines, func(l stampedLine) bool { return appLine.MatchString(l.Text) }) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	texts := make([]string, len(r.Lines))
	for i, l := range r.Lines {
		texts[i] = l.Text
		switch {
		case r.Loader == 0 && loaderRE.MatchString(l.Text):
			r.Loader = l.At
		case r.FirstInit == 0 && initRE.MatchString(l.Text):
			r.FirstInit = l.At
		case r.App == 0 && appLine.MatchString(l.Text):
			r.App = l.At
		}
	}
	return r, texts, nil
}
