package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tinyboot/tinyboot/agent/console"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// Where the kernel finds its module helper, and what the agent writes
// there: itself, so request_module() ("fs-vfat", "crypto-sha256",
// "net-pf-10") is served from the baked table with no modprobe binary.
const (
	kernelModprobe = "/proc/sys/kernel/modprobe"
	agentPath      = "/init"
	// unknownDir remembers, across helper runs, which requests were
	// already reported as not in the image.
	unknownDir = "/run/tinyboot/modprobe-unknown"
)

// registerModprobe makes the agent the kernel's module helper.
func registerModprobe() error {
	if err := os.WriteFile(kernelModprobe, []byte(agentPath+"\n"), 0o644); err != nil {
		return fmt.Errorf("modprobe helper: %w", err)
	}
	return nil
}

// IsModprobe reports whether this process is the agent started by the
// kernel as its module helper rather than as PID 1: the kernel runs the
// path registered in /proc/sys/kernel/modprobe with that path as argv[0]
// ("/init -q -- NAME"); any other way of running the agent's binary (a
// helper the agent itself starts under another argv[0]) is not this.
func IsModprobe() bool {
	return os.Getpid() != 1 && len(os.Args) > 0 && os.Args[0] == agentPath
}

// Modprobe is the kernel's module helper: it loads the module args name
// (a module name or an alias) and what it needs from the baked table, and
// returns the exit status. A request the image cannot serve is said once
// on the console, however often the kernel repeats it.
func Modprobe(args []string) int {
	var out io.Writer = io.Discard
	if f, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		defer f.Close()
		out = f
	}
	log := console.New(out, nil)
	cfg, err := LoadSpec(baked.Path)
	if err != nil {
		log.Printf("modules: kernel request %q: spec: %v", strings.Join(args, " "), err)
		return 1
	}
	return modprobe(args, cfg, finitModule, log, realClock{}, firstUnknown)
}

// modprobe is Modprobe over its inputs. firstTime reports whether request
// is being reported unknown for the first time.
func modprobe(args []string, cfg *baked.Config, load func(path, params string) error, log *console.Logger, clock Clock, firstTime func(request string) bool) int {
	request, err := modprobeRequest(args)
	if err != nil {
		log.Printf("modules: kernel request %q: %v", strings.Join(args, " "), err)
		return 2
	}
	loader := newModuleLoader(load, cfg.KernelVersion, cfg.Modules, 1)
	mods := loader.Table().Lookup(request)
	if len(mods) == 0 {
		if firstTime(request) {
			log.Printf("modules: kernel asked for %s: not in the image", request)
		}
		return 1
	}
	start := clock.Now()
	res := loader.Load(mods)
	why := map[string][]string{}
	for _, m := range mods {
		why[m] = []string{"kernel: " + request}
	}
	failed := false
	for _, r := range res {
		failed = failed || r.Err != nil
	}
	// Modules another helper or PID 1 loaded already give EEXIST, which
	// counts as loaded: only say something when this run loaded something.
	if len(res) > 0 {
		log.Printf("%s", moduleSummary("modules: loaded %d in "+console.Dur(clock.Now().Sub(start)), res, why, log))
	}
	if failed {
		return 1
	}
	return 0
}

// modprobeRequest reads the arguments the kernel passes its helper:
// "-q -- NAME" (older kernels: "-q NAME"), with -b (use the blacklist)
// accepted and ignored.
func modprobeRequest(args []string) (string, error) {
	var names []string
	flags := true
	for _, a := range args {
		switch {
		case flags && a == "--":
			flags = false
		case flags && (a == "-q" || a == "--quiet" || a == "-b" || a == "--use-blacklist"):
		case flags && strings.HasPrefix(a, "-"):
			return "", fmt.Errorf("unsupported option %s (this is tinyboot's module helper: it only loads)", a)
		default:
			names = append(names, a)
		}
	}
	if len(names) != 1 {
		return "", errors.New("want exactly one module name")
	}
	return names[0], nil
}

// firstUnknown records request in unknownDir and reports whether it was
// not there yet.
func firstUnknown(request string) bool {
	if err := os.MkdirAll(unknownDir, 0o755); err != nil {
		return true
	}
	name := strings.NewReplacer("/", "_", "\x00", "_").Replace(request)
	f, err := os.OpenFile(filepath.Join(unknownDir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return !errors.Is(err, os.ErrExist)
	}
	f.Close()
	return true
}
