package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tinyboot/tinyboot/compose"
)

// composeRun is one `tbcompose build --json`.
type composeRun struct {
	Wall   time.Duration
	MaxRSS int64 // bytes, from the child's rusage
	Result compose.Result
}

// stage returns the duration of the named stage, 0 when it did not run.
func (r *composeRun) stage(name string) time.Duration {
	for _, t := range r.Result.Timings {
		if t.Stage == name {
			return t.Duration
		}
	}
	return 0
}

// tbcompose runs the composer binary with cache as XDG_CACHE_HOME and
// decodes its JSON summary.
func tbcompose(ctx context.Context, bin, cache string, args ...string) (*composeRun, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"build", "--json"}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("tbcompose build %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	run := &composeRun{Wall: wall, MaxRSS: maxRSS(cmd.ProcessState)}
	if err := json.Unmarshal(stdout.Bytes(), &run.Result); err != nil {
		return nil, fmt.Errorf("tbcompose build --json output: %w", err)
	}
	return run, nil
}

// maxRSS is the child's peak resident set; Linux reports it in KiB.
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10
	}
	return 0
}

// pipelineRun is one run of pipeline.sh.
type pipelineRun struct {
	Wall   time.Duration
	Steps  map[string]time.Duration
	ISO    int64
	Initrd int64
	UKI    int64
}

// pipelineInput is what pipeline.sh packs, besides the level.
type pipelineInput struct {
	Script  string
	In      *unpacked
	Payload string // directory shipped as /www
	VolID   string
	Work    string
}

// pipeline runs the shell pipeline at a zstd level and reads the step
// times it prints.
func pipeline(ctx context.Context, p pipelineInput, level int, out string) (*pipelineRun, error) {
	if err := os.MkdirAll(p.Work, 0o755); err != nil {
		return nil, err
	}
	in := p.In
	cmd := exec.CommandContext(ctx, "bash", p.Script, in.Root, in.Vmlinuz, in.Osrel, in.Cmdline, in.Uname,
		p.Payload, p.VolID, out, p.Work, strconv.Itoa(level))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	run := &pipelineRun{Wall: time.Since(start), Steps: map[string]time.Duration{}}
	if err != nil {
		return nil, fmt.Errorf("pipeline.sh: %w\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "step" {
			continue
		}
		ns, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("pipeline.sh: bad step line %q", sc.Text())
		}
		run.Steps[f[1]] = time.Duration(ns)
	}
	for _, f := range []struct {
		path string
		n    *int64
	}{{out, &run.ISO}, {p.Work + "/initrd.zst", &run.Initrd}, {p.Work + "/uki.efi", &run.UKI}} {
		fi, err := os.Stat(f.path)
		if err != nil {
			return nil, fmt.Errorf("pipeline.sh output: %w", err)
		}
		*f.n = fi.Size()
	}
	return run, nil
}
