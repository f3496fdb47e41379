package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tinyboot/tinyboot/internal/qemu"
)

// bigAppSize is the size of the large app the issue measures (Prometheus
// and MinIO are ~100 MiB stripped).
const bigAppSize = 100 << 20

// bigAppLine is the measuring app's first line; it carries the guest's
// MemAvailable when the app started.
var bigAppLine = regexp.MustCompile(`^bigapp: up, MemAvailable (\d+) kB, embedded (\d+) bytes`)

// bigAppSource is the measuring app: it reports the memory left to it
// and waits. With the embed file it carries bigAppSize bytes of data, as
// a large server binary carries code and tables.
const bigAppSource = `package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"
)

func memAvailable() string {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return "?"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "MemAvailable:"); ok {
			return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
		}
	}
	return "?"
}

func main() {
	fmt.Printf("bigapp: up, MemAvailable %s kB, embedded %d bytes\n", memAvailable(), len(blob))
	for {
		time.Sleep(time.Hour)
	}
}
`

// bigAppCase is one way to ship the large app.
type bigAppCase struct {
	Name     string
	embed    bool // the data is inside the app's binary
	onISO    bool // the app runs from the ISO (app.run_from: iso)
	ISO      int64
	Runs     []*bootRun
	MemAvail int64 // kB, at the app's start (the last boot's)
}

// bigApps measures what a ~100 MiB app costs where it lives: inside the
// initramfs (held in RAM for good, read by the firmware with the UKI
// before the kernel starts), against the same app run from the ISO's
// filesystem (app.run_from: iso: paged in on demand), and the small app
// alone as the baseline. Each is booted -boots times under q35+OVMF
// from CD, with 512 MiB.
func (b *bench) bigApps(ctx context.Context) error {
	dir := filepath.Join(b.cfg.Work, "bigapp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	blob := filepath.Join(dir, "blob.bin")
	if err := writeBlob(blob, bigAppSize); err != nil {
		return err
	}
	bins := map[bool]string{}
	for _, embed := range []bool{false, true} {
		src := filepath.Join(dir, fmt.Sprintf("src-%v", embed))
		if err := os.MkdirAll(src, 0o755); err != nil {
			return err
		}
		decl := "var blob []byte\n"
		if embed {
			decl = "import _ \"embed\"\n\n//go:embed blob.bin\nvar blob string\n"
			if err := os.Link(blob, filepath.Join(src, "blob.bin")); err != nil {
				return err
			}
		}
		files := map[string]string{
			"go.mod":  "module bigapp\n\ngo 1.22\n",
			"main.go": bigAppSource,
			"blob.go": "package main\n\n" + decl,
		}
		for n, text := range files {
			if err := os.WriteFile(filepath.Join(src, n), []byte(text), 0o644); err != nil {
				return err
			}
		}
		bins[embed] = filepath.Join(dir, fmt.Sprintf("bigapp-%v", embed))
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", bins[embed], ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build the big app: %w\n%s", err, out)
		}
	}
	cases := []*bigAppCase{
		{Name: "small app alone (baseline)"},
		{Name: "100 MiB app in the initramfs (the default)", embed: true},
		{Name: "100 MiB app on the ISO (app.run_from: iso)", embed: true, onISO: true},
	}
	for i, c := range cases {
		spec := fmt.Sprintf("name: big\nkernel:\n  package: linux-image-amd64\n  cmdline: [console=ttyS0]\napp:\n  binary: %s\nnetwork:\n  dhcp: false\n", bins[c.embed])
		if c.onISO {
			spec = strings.Replace(spec, "app:\n", "app:\n  run_from: iso\n", 1)
		}
		cdir := filepath.Join(dir, fmt.Sprintf("case%d", i))
		if err := os.MkdirAll(cdir, 0o755); err != nil {
			return err
		}
		specPath := filepath.Join(cdir, "tinyboot.yaml")
		if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
			return err
		}
		if lock, err := os.ReadFile(filepath.Join(b.specDir, "tinyboot.lock")); err == nil {
			if err := os.WriteFile(filepath.Join(cdir, "tinyboot.lock"), lock, 0o644); err != nil {
				return err
			}
		}
		iso := filepath.Join(cdir, "big.iso")
		r, err := tbcompose(ctx, b.composer, b.warmCache, specPath, "-o", iso, "--agent", b.agent)
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		c.ISO = r.Result.Size
		var runs []*bootRun
		for range max(b.cfg.Boots, 1) {
			run, err := bootWith(ctx, qemu.Config{Image: iso}, bigAppLine, 2*bootTimeout)
			if err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
			runs = append(runs, run)
			for _, l := range run.Lines {
				if m := bigAppLine.FindStringSubmatch(l.Text); m != nil {
					c.MemAvail, _ = strconv.ParseInt(m[1], 10, 64)
				}
			}
			b.log.Info("big app boot", "case", c.Name, "app", run.App, "MemAvailable kB", c.MemAvail)
		}
		c.Runs = runs
	}
	b.res.BigApp = cases
	return nil
}

// writeBlob writes n bytes that compress about as well as a Go binary
// (to ~40%): a seeded random walk over a small alphabet, the same bytes
// on every run.
func writeBlob(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "\x00\x01\x48\x89\x8b\xe8\xff\x0f\x24\x44\x10\x20\x30\x40\x50\x60"
	for range n {
		w.WriteByte(alphabet[rng.IntN(len(alphabet))])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (r *results) writeBigApp(p printer) {
	if len(r.BigApp) == 0 {
		return
	}
	p("### A 100 MiB app: in the initramfs, or run from the ISO (q35 + OVMF from CD, 512 MiB, n=%d each)", len(r.BigApp[0].Runs))
	p("")
	p("| case | ISO | QEMU start → app's first line | guest kernel start → /init | MemAvailable at the app's start |")
	p("|---|---|---|---|---|")
	for _, c := range r.BigApp {
		p("| %s | %s | %s | %s | %d MiB |", c.Name, mib(c.ISO),
			hostOf(c.Runs, func(x *bootRun) time.Duration { return x.App }).spread(),
			guestOf(c.Runs, func(g guestTimes) time.Duration { return g.InitStart }).spread(),
			c.MemAvail/1024)
	}
	p("")
}
