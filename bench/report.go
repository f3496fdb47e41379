package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// results is everything measured in one run.
type results struct {
	Date         time.Time
	Warm         []*composeRun
	Pipeline     map[int][]*pipelineRun
	Cold         []*composeRun
	ColdDownload []*composeRun
	XZSize       int64
	XZ9Initrd    int64 // the initramfs compressed by xz -9e, for reference
	Unpacked     *unpacked
	Boots        []*bootRun
	PipelineBoot *bootRun
	// PipelineBootErr says why the pipeline's image did not boot.
	PipelineBootErr string
	Memory          []memoryRun
	MemoryNote      string
	SHA256s         []string
	Failed          []string // parts that failed, with the error
	// Firmware are the boots of the firmware and machine comparison;
	// FormatISO and FormatUKI the sizes of that build's ISO and UKI.
	Firmware             []firmwareRun
	FormatISO, FormatUKI int64
	// Floor are the boots of tinyboot's image and the floor image side by
	// side; OursISO and FloorISO their ISOs' sizes.
	Floor             []floorRun
	OursISO, FloorISO int64
	// BigApp are the cases of the large-app comparison.
	BigApp []*bigAppCase
}

// memoryRun is one large-payload build.
type memoryRun struct {
	Dense bool
	Size  int64
	Run   *composeRun
}

// Targets from the issue "Speed, size and reproducibility".
const (
	targetWarmRatio  = 0.5
	targetSizeRatio  = 1.0
	targetImageBytes = 14_000_000
	targetISOOver    = 1 << 20
	targetAgentOwn   = 100 * time.Millisecond
	targetRSS        = 200 << 20
)

// stages are tbcompose's stages in pipeline order.
var stages = []string{"kernel", "modules", "app", "agent", "initramfs", "uki", "esp", "write iso"}

func walls(runs []*composeRun) samples {
	var s samples
	for _, r := range runs {
		s = append(s, r.Wall)
	}
	return s
}

func stageOf(runs []*composeRun, name string) samples {
	var s samples
	for _, r := range runs {
		s = append(s, r.stage(name))
	}
	return s
}

func pipeWalls(runs []*pipelineRun) samples {
	var s samples
	for _, r := range runs {
		s = append(s, r.Wall)
	}
	return s
}

func pipeStep(runs []*pipelineRun, name string) samples {
	var s samples
	for _, r := range runs {
		s = append(s, r.Steps[name])
	}
	return s
}

func guestOf(boots []*bootRun, f func(guestTimes) time.Duration) samples {
	var s samples
	for _, b := range boots {
		s = append(s, f(b.Guest))
	}
	return s
}

func hostOf(boots []*bootRun, f func(*bootRun) time.Duration) samples {
	var s samples
	for _, b := range boots {
		s = append(s, f(b))
	}
	return s
}

// write prints the report as Markdown.
func (r *results) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format+"\n", args...) }
	p("## Results (%s, %s)", r.Date.Format("2006-01-02 15:04 MST"), hostInfo())
	p("")
	r.writeTargets(p)
	r.writeWarm(p)
	r.writeSize(p)
	r.writeCold(p)
	r.writeBoot(p)
	r.writeFirmware(p)
	r.writeFloor(p)
	r.writeBigApp(p)
	r.writeMemory(p)
	for _, f := range r.Failed {
		p("**Failed:** %s", firstLine(f))
		p("")
	}
	return bw.Flush()
}

type printer func(format string, args ...any)

func (r *results) writeTargets(p printer) {
	p("### Targets")
	p("")
	p("| target | measured | |")
	p("|---|---|---|")
	if len(r.Warm) > 0 {
		tb := walls(r.Warm).median()
		for _, lvl := range pipelineLevels {
			pr := ratio(float64(tb), float64(pipeWalls(r.Pipeline[lvl]).median()))
			p("| warm compose tbcompose/pipeline (zstd -%d) ≤ %.1f | %.2f | %s |", lvl, targetWarmRatio, pr, verdict(pr <= targetWarmRatio))
		}
		size := r.Warm[0].Result.Size
		for _, lvl := range pipelineLevels {
			sr := ratio(float64(size), float64(r.Pipeline[lvl][0].ISO))
			p("| image size tbcompose/pipeline (zstd -%d) ≤ %.1f | %.3f | %s |", lvl, targetSizeRatio, sr, verdict(sr <= targetSizeRatio))
		}
		p("| example image < 14 MB (Debian 6.1 kernel) | %s | %s |", mib(size), verdict(size < targetImageBytes))
		if r.Unpacked != nil {
			over := size - r.Unpacked.UKISize
			p("| ISO adds < 1 MiB over the UKI | %.1f KiB | %s |", float64(over)/1024, verdict(over < targetISOOver))
		}
	}
	if len(r.Boots) > 0 {
		own := guestOf(r.Boots, guestTimes.AgentOwn).median()
		p("| agent adds < 100 ms between /init and app start, excluding module loading and DHCP/SNTP waits (TCG) | %s | %s |", ms(own), verdict(own < targetAgentOwn))
	}
	for _, c := range floorCases {
		if rt := r.floorRatio(c.Name); rt > 0 {
			p("| QEMU start → app's first line, tinyboot / floor image, %s ≤ %.2f | %.2f | %s |", c.Name, targetFloorRatio, rt, verdict(rt <= targetFloorRatio))
		}
	}
	for _, m := range r.Memory {
		p("| composer peak memory < 200 MiB, %s %s payload | %s | %s |", gib(m.Size), kind(m.Dense), mib(m.Run.MaxRSS), verdict(m.Run.MaxRSS < targetRSS))
	}
	if n := len(r.SHA256s); n > 0 {
		distinct := len(uniq(r.SHA256s))
		p("| reproducible: every build of the spec gives the same bytes | %d builds, %d distinct sha256 | %s |", n, distinct, verdict(distinct == 1))
	}
	p("")
}

func (r *results) writeWarm(p printer) {
	if len(r.Warm) == 0 {
		return
	}
	p("### 1. Warm compose, interleaved (tbcompose, pipeline -3, pipeline -19, repeat), n=%d", len(r.Warm))
	p("")
	p("tbcompose: warm cache, prebuilt app and agent, wall time of the process (includes the fsync of the image).")
	p("")
	p("| tbcompose stage | median (min–max) |")
	p("|---|---|")
	for _, s := range stages {
		p("| %s | %s |", s, stageOf(r.Warm, s).spread())
	}
	p("| **process wall** | **%s** |", walls(r.Warm).spread())
	p("")
	p("| pipeline step | zstd -3 | zstd -19 |")
	p("|---|---|---|")
	for _, s := range []string{"initramfs", "uki", "esp", "write iso"} {
		p("| %s | %s | %s |", s, pipeStep(r.Pipeline[3], s).spread(), pipeStep(r.Pipeline[19], s).spread())
	}
	p("| **script wall** | **%s** | **%s** |", pipeWalls(r.Pipeline[3]).spread(), pipeWalls(r.Pipeline[19]).spread())
	p("")
}

func (r *results) writeSize(p printer) {
	if len(r.Warm) == 0 || r.Unpacked == nil {
		return
	}
	u := r.Unpacked
	p("### 2. Image size")
	p("")
	p("| | ISO | UKI | initramfs |")
	p("|---|---|---|---|")
	p("| tbcompose (zstd, %d segments) | %s | %s | %s |", u.Segments, mib(r.Warm[0].Result.Size), mib(u.UKISize), mib(u.InitrdSize))
	if r.XZSize > 0 {
		p("| tbcompose --compression xz | %s | | |", mib(r.XZSize))
	}
	for _, lvl := range pipelineLevels {
		pr := r.Pipeline[lvl][0]
		p("| pipeline zstd -%d | %s | %s | %s |", lvl, mib(pr.ISO), mib(pr.UKI), mib(pr.Initrd))
	}
	if r.XZ9Initrd > 0 {
		p("| reference: `xz -9e` of the same initramfs | | | %s |", mib(r.XZ9Initrd))
	}
	p("")
	p("Uncompressed initramfs: %s. tbcompose's own breakdown (compressed sizes):", mib(u.InitrdRaw))
	p("")
	p("| part | size |")
	p("|---|---|")
	for _, part := range r.Warm[0].Result.Parts {
		p("| %s | %s |", part.Name, mib(part.Size))
	}
	p("")
}

func (r *results) writeCold(p printer) {
	if len(r.Cold) == 0 && len(r.ColdDownload) == 0 {
		return
	}
	p("### 3. Cold compose (empty XDG_CACHE_HOME)")
	p("")
	p("| stage | .debs already downloaded, n=%d | fully cold, n=%d |", len(r.Cold), len(r.ColdDownload))
	p("|---|---|---|")
	for _, s := range stages {
		p("| %s | %s | %s |", s, stageOf(r.Cold, s).spread(), stageOf(r.ColdDownload, s).spread())
	}
	p("| **process wall** | **%s** | **%s** |", walls(r.Cold).spread(), walls(r.ColdDownload).spread())
	p("")
	p("The kernel stage is tinyboot's archive client downloading the pinned kernel packages (fully cold only) plus unpacking vmlinuz and the modules from data.tar.xz; the app and agent are prebuilt.")
	p("")
}

func (r *results) writeBoot(p printer) {
	if len(r.Boots) == 0 {
		return
	}
	b := r.Boots
	p("### 4. Boot under QEMU/TCG (q35, 512 MiB, OVMF, CD-ROM + btrfs virtio disk), n=%d", len(b))
	p("")
	p("| host wall from QEMU start | median (min–max) |")
	p("|---|---|")
	p("| firmware starts the boot entry | %s |", hostOf(b, func(x *bootRun) time.Duration { return x.Loader }).spread())
	p("| agent's first console line | %s |", hostOf(b, func(x *bootRun) time.Duration { return x.FirstInit }).spread())
	p("| app's first line (`hello: …`) | %s |", hostOf(b, func(x *bootRun) time.Duration { return x.App }).spread())
	p("")
	p("| guest time (agent's console clock) | median (min–max) |")
	p("|---|---|")
	rows := []struct {
		name string
		f    func(guestTimes) time.Duration
	}{
		{"kernel start → /init", func(g guestTimes) time.Duration { return g.InitStart }},
		{"/init → app started", guestTimes.InitToApp},
		{"  setup (mount /proc, /sys, /dev, …)", func(g guestTimes) time.Duration { return g.Setup }},
		{"  module loading", func(g guestTimes) time.Duration { return g.Modules }},
		{"  storage (ISO and volume search, mounts)", func(g guestTimes) time.Duration { return g.Storage }},
		{"  DHCP (from start, concurrent with storage)", func(g guestTimes) time.Duration { return g.Network }},
		{"  DHCP wait not hidden by storage", guestTimes.DHCPWait},
		{"  SNTP wait", func(g guestTimes) time.Duration { return g.Time }},
		{"  **agent's own share** (/init → app − modules − DHCP wait − SNTP)", guestTimes.AgentOwn},
	}
	for _, row := range rows {
		p("| %s | %s |", row.name, guestOf(b, row.f).spread())
	}
	p("")
	switch {
	case r.PipelineBoot != nil:
		p("The pipeline's image (zstd -19) boots as well: app's first line %s after QEMU start, kernel start → /init %s (one boot).", ms(r.PipelineBoot.App), ms(r.PipelineBoot.Guest.InitStart))
	case r.PipelineBootErr != "":
		p("The pipeline's image (zstd -19) did not boot: %s", firstLine(r.PipelineBootErr))
	}
	p("")
}

func (r *results) writeMemory(p printer) {
	if len(r.Memory) == 0 && r.MemoryNote == "" {
		return
	}
	p("### 5. Peak memory of `tbcompose build` (max RSS of the process)")
	p("")
	p("| payload | max RSS | wall | iso stage |")
	p("|---|---|---|---|")
	if len(r.Warm) > 0 {
		var rss []int64
		for _, w := range r.Warm {
			rss = append(rss, w.MaxRSS)
		}
		slices.Sort(rss)
		p("| none (warm builds, median) | %s | %s | %s |", mib(rss[len(rss)/2]), ms(walls(r.Warm).median()), ms(stageOf(r.Warm, "write iso").median()))
	}
	for _, m := range r.Memory {
		p("| %s %s file | %s | %s | %s |", gib(m.Size), kind(m.Dense), mib(m.Run.MaxRSS), ms(m.Run.Wall), ms(m.Run.stage("write iso")))
	}
	if r.MemoryNote != "" {
		p("")
		p("%s", r.MemoryNote)
	}
	p("")
}

func gib(n int64) string { return fmt.Sprintf("%.0f GiB", float64(n)/(1<<30)) }

func kind(dense bool) string {
	if dense {
		return "written (pseudo-random)"
	}
	return "sparse"
}

func uniq(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// hostInfo names the CPU and core count, since results depend on both.
func hostInfo() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s", cpu, runtime.NumCPU(), runtime.Version())
}
