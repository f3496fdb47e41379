// Command bench measures tbcompose against the shell pipeline it replaces
// (cpio | zstd, objcopy, mtools, xorriso) on the same content: warm and
// cold compose time, image size, reproducibility, boot time under QEMU/TCG
// and the composer's peak memory with a large payload. It prints a
// Markdown report; see bench/README.md.
//
//	go run ./bench            # from the module root; bench/run.sh wraps it
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// config is the command line.
type config struct {
	Work         string
	Spec         string
	Runs         int
	Cold         int
	ColdDownload int
	Boots        int
	Payload      int64
	Skip         map[string]bool
	Out          string
	Keep         bool
}

func main() {
	var c config
	var skip string
	flag.StringVar(&c.Work, "work", "", "scratch directory (default: a new one under $TMPDIR, removed afterwards)")
	flag.StringVar(&c.Spec, "spec", "examples/tinyboot.yaml", "the example spec; its app is prebuilt once so Go builds stay out of the timings")
	flag.IntVar(&c.Runs, "runs", 7, "warm runs of each contender, interleaved")
	flag.IntVar(&c.Cold, "cold", 5, "cold builds with the kernel .debs already downloaded")
	flag.IntVar(&c.ColdDownload, "cold-download", 1, "fully cold builds that download the kernel from the archive")
	flag.IntVar(&c.Boots, "boots", 3, "QEMU/TCG boots of the tbcompose image")
	flag.Int64Var(&c.Payload, "payload", 2<<30, "payload size in bytes for the peak-memory builds")
	flag.StringVar(&skip, "skip", "", "comma-separated parts to skip: cold, download, warm, boot, firmware, floor, bigapp, memory, dense")
	flag.StringVar(&c.Out, "o", "", "also write the report to this file")
	flag.BoolVar(&c.Keep, "keep", false, "keep the scratch directory")
	flag.Parse()
	c.Skip = map[string]bool{}
	for _, s := range strings.Split(skip, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.Skip[s] = true
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c, log); err != nil {
		log.Error("bench failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config, log *slog.Logger) (err error) {
	if c.Runs < 1 || c.Boots < 0 || c.Cold < 0 || c.ColdDownload < 0 {
		return fmt.Errorf("-runs must be at least 1 and counts not negative")
	}
	if err := checkTools(c); err != nil {
		return err
	}
	if c.Work == "" {
		dir, err := os.MkdirTemp("", "tbbench-")
		if err != nil {
			return err
		}
		c.Work = dir
		if !c.Keep {
			defer os.RemoveAll(dir)
		}
	}
	work, err := filepath.Abs(c.Work)
	if err != nil {
		return err
	}
	c.Work = work
	b := &bench{cfg: c, log: log, res: &results{Date: time.Now().UTC(), Pipeline: map[int][]*pipelineRun{}}}
	if err := b.prepare(ctx); err != nil {
		return err
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"cold", b.cold},
		{"warm", b.warm},
		{"boot", b.boots},
		{"firmware", b.firmwares},
		{"floor", b.floors},
		{"bigapp", b.bigApps},
		{"memory", b.memory},
	}
	// A part that fails is reported and the rest still run: one broken
	// tool should not throw away minutes of measurements.
	var failed []string
	for _, s := range steps {
		if c.Skip[s.name] {
			continue
		}
		log.Info("measuring", "part", s.name)
		if err := s.fn(ctx); err != nil {
			log.Error("part failed", "part", s.name, "err", err)
			b.res.Failed = append(b.res.Failed, fmt.Sprintf("%s: %v", s.name, err))
			failed = append(failed, s.name)
		}
	}
	defer func() {
		if len(failed) > 0 && err == nil {
			err = fmt.Errorf("parts failed: %s", strings.Join(failed, ", "))
		}
	}()
	var w io.Writer = os.Stdout
	if c.Out != "" {
		f, err := os.Create(c.Out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = io.MultiWriter(os.Stdout, f)
	}
	return b.res.write(w)
}

// tools are the commands the pipeline and the boots need, with the Debian
// package that provides each.
var tools = map[string]string{
	"cpio": "cpio", "zstd": "zstd", "objcopy": "binutils", "objdump": "binutils",
	"mformat": "mtools", "mmd": "mtools", "mcopy": "mtools", "xorriso": "xorriso", "xz": "xz-utils",
	"go": "golang (https://go.dev/dl)", "qemu-system-x86_64": "qemu-system-x86",
}

func checkTools(c config) error {
	var missing []string
	for t, pkg := range tools {
		if t == "qemu-system-x86_64" && c.Skip["boot"] {
			continue
		}
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, fmt.Sprintf("%s (apt-get install %s)", t, pkg))
		}
	}
	if _, err := os.Stat("/usr/lib/systemd/boot/efi/linuxx64.efi.stub"); err != nil {
		missing = append(missing, "the systemd UEFI stub (apt-get install systemd-boot-efi)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing: %s", strings.Join(missing, ", "))
	}
	return nil
}

// appLine is the hello app's first line on the console.
var appLine = regexp.MustCompile(`^hello: (listening|boot count)`)
