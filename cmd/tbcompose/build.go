package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/compose/initramfs"
	"github.com/tinyboot/tinyboot/spec"
)

// buildFlags are the flags of `tbcompose build`, shared with `run`.
type buildFlags struct {
	output      string
	compression string
	agent       string
	json        bool
	timings     bool
	verbose     bool
	update      bool
	locked      bool
	formats     []string
	diskSize    string
	arch        []string
}

func init() { register(newBuildCmd) }

func newBuildCmd() *cobra.Command {
	f := &buildFlags{}
	cmd := &cobra.Command{
		Use:   "build [FILE]",
		Short: "Build the bootable image a tinyboot.yaml describes",
		Long: `build validates the spec (with the same messages as validate), resolves the
kernel, its modules, the app and the agent, and writes each output format the
spec's formats key (or --format) asks for; by default a hybrid ISO that boots
under BIOS and UEFI, from a CD, a USB stick or a raw disk. Formats:

  iso            <name>.iso            hybrid ISO (BIOS + UEFI; CD, USB, disk)
  uki            <name>.efi            the unified kernel image alone
  kernel         <name>-kernel/        vmlinuz, initrd.img, cmdline (QEMU -kernel,
                                       Firecracker, cloud-hypervisor)
  raw            <name>.img            GPT disk image of --disk-size (BIOS + UEFI)
  gce            <name>.tar.gz         disk.raw for Google Compute Engine
  containerdisk  <name>.containerdisk.tar  KubeVirt containerDisk (OCI archive)

With one format -o names its file (for kernel, its directory); with several,
-o names a directory that receives them all.

The first build of a spec using kernel.package records the packages it
resolved to in tinyboot.lock beside the spec; later builds use exactly those,
offline. --update resolves afresh; --locked (for CI) fails instead of writing
the lock. Set SOURCE_DATE_EPOCH to stamp a date other than the fixed default
into the image; the same inputs give the same bytes either way.

Built parts are cached in $XDG_CACHE_HOME/tinyboot (see tbcompose cache),
pruned after each build to TINYBOOT_CACHE_LIMIT (default 2G).`,
		Example: `  tbcompose build                      # ./tinyboot.yaml → <name>.iso next to it
  tbcompose build examples/tinyboot.yaml -o /tmp/hello.iso
  tbcompose build --format iso,kernel,gce -o out/
  tbcompose build --format raw --disk-size 2G
  tbcompose build --locked --json      # CI: reproducible, machine-readable summary`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "tinyboot.yaml"
			if len(args) == 1 {
				path = args[0]
			}
			res, err := buildSpec(cmd, path, *f)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			printSummary(cmd.OutOrStdout(), res, summaryOptions{timings: f.timings, verbose: f.verbose})
			return nil
		},
	}
	addBuildFlags(cmd, f)
	cmd.Flags().BoolVar(&f.json, "json", false, "print the summary as JSON on stdout")
	cmd.Flags().BoolVar(&f.timings, "timings", false, "print each stage's wall time (instead of a line per stage as it ends)")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "list the modules by name")
	return cmd
}

func addBuildFlags(cmd *cobra.Command, f *buildFlags) {
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "output path: the file of the one format written, or the directory of several (default: the spec's output, else beside the spec)")
	cmd.Flags().StringSliceVar(&f.formats, "format", nil, "output formats, comma-separated: iso, uki, kernel, raw, gce, containerdisk (default: the spec's formats, else iso)")
	cmd.Flags().StringVar(&f.diskSize, "disk-size", "", "size of the raw format's disk, e.g. 2G (default: the image rounded up to a whole MiB)")
	cmd.Flags().StringVar(&f.compression, "compression", "zstd", "initramfs compression: zstd, xz, gzip or none")
	cmd.Flags().StringVar(&f.agent, "agent", "", "use this prebuilt agent binary instead of building one")
	cmd.Flags().BoolVar(&f.update, "update", false, "resolve kernel.package afresh and rewrite tinyboot.lock")
	cmd.Flags().BoolVar(&f.locked, "locked", false, "fail if tinyboot.lock is missing or does not match the spec (for CI)")
	cmd.Flags().StringSliceVar(&f.arch, "arch", nil, "build for these architectures instead of the spec's arch: amd64, arm64, or both as amd64,arm64 (one image each)")
}

// buildForRun builds the spec at specPath with its own formats, printing
// progress to cmd's stderr, and returns the path of its output in format
// (of the first architecture's image). `tbcompose run` and containerdisk
// call it when given a spec rather than an image.
func buildForRun(cmd *cobra.Command, specPath, format string) (string, error) {
	res, err := buildSpec(cmd, specPath, buildFlags{compression: "zstd"})
	if err != nil {
		return "", err
	}
	printSummary(cmd.ErrOrStderr(), res, summaryOptions{})
	for _, w := range res.Outputs {
		if w.Format == format {
			if format == spec.FormatKernel {
				// The summary lists the directory's files.
				return filepath.Dir(w.Path), nil
			}
			return w.Path, nil
		}
	}
	if len(res.Outputs) == 0 && format == spec.FormatISO {
		return res.Output, nil
	}
	return "", fmt.Errorf("build %s wrote no %s output to boot", specPath, format)
}

// buildSpec loads, validates and builds the spec at path.
func buildSpec(cmd *cobra.Command, path string, f buildFlags) (*compose.Result, error) {
	if f.update && f.locked {
		return nil, withCode(exitUsage, errors.New("--update and --locked contradict each other"))
	}
	comp, err := initramfs.ParseCompression(f.compression)
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("--compression: %w", err))
	}
	var diskSize int64
	if f.diskSize != "" {
		if diskSize, err = parseSize(f.diskSize); err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("--disk-size: %w", err))
		}
		if diskSize%512 != 0 {
			return nil, withCode(exitUsage, fmt.Errorf("--disk-size %s: not a whole number of 512-byte sectors", f.diskSize))
		}
	}
	s, diags, err := spec.Load(path)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	stderr := cmd.ErrOrStderr()
	if len(diags) > 0 {
		diags.WriteHuman(stderr)
	}
	if diags.HasErrors() {
		return nil, withCode(exitInvalid, fmt.Errorf("%s is not valid; nothing was built", path))
	}
	if len(f.arch) > 0 {
		if err := overrideArch(s, f.arch); err != nil {
			return nil, withCode(exitUsage, err)
		}
	}
	r := s.WithDefaults()
	mode := compose.LockUse
	switch {
	case f.update:
		mode = compose.LockUpdate
	case f.locked:
		mode = compose.LockFrozen
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := compose.Options{
		Output:      f.output,
		Formats:     f.formats,
		DiskSize:    diskSize,
		Compression: comp,
		AgentPath:   f.agent,
		Lock:        compose.LockOptions{Path: compose.LockPath(path), Mode: mode},
		Update:      f.update,
		// With --timings the table at the end replaces the stage lines.
		Log: slog.New(&stageHandler{w: stderr, hideStages: f.timings}),
	}
	res, err := compose.Build(ctx, r, opts)
	if err != nil {
		return nil, withCode(exitInvalid, fmt.Errorf("build %s: %w", path, err))
	}
	if res.LockWritten != "" {
		fmt.Fprintf(stderr, "wrote %s\n", res.LockWritten)
	}
	return res, nil
}

// stageHandler prints the composer's progress as one plain line per stage.
type stageHandler struct {
	w     io.Writer
	attrs []slog.Attr
	// hideStages drops the stage lines (those with a took= attribute).
	hideStages bool
}

// Enabled drops debug records: they are for --json consumers and tests,
// not for the terminal.
func (h *stageHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *stageHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &stageHandler{w: h.w, attrs: append(append([]slog.Attr{}, h.attrs...), a...), hideStages: h.hideStages}
}
func (h *stageHandler) WithGroup(string) slog.Handler { return h }
func (h *stageHandler) Handle(_ context.Context, r slog.Record) error {
	if h.hideStages {
		stage := false
		r.Attrs(func(a slog.Attr) bool {
			stage = stage || a.Key == "took"
			return !stage
		})
		if stage {
			return nil
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  %-10s", r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String())
	return err
}

// summaryOptions choose what printSummary adds to the short summary.
type summaryOptions struct {
	timings bool // the stage timings table
	verbose bool // the modules by name
}

func printSummary(w io.Writer, res *compose.Result, o summaryOptions) {
	if len(res.Images) > 0 {
		for _, im := range res.Images {
			printSummary(w, im, o)
		}
		return
	}
	if len(res.Outputs) <= 1 {
		fmt.Fprintf(w, "%s  %s\n", res.Output, humanSize(res.Size))
		fmt.Fprintf(w, "  sha256   %s\n", res.SHA256)
	} else {
		for _, out := range res.Outputs {
			fmt.Fprintf(w, "%-6s %s  %s\n", out.Format, out.Path, humanSize(out.Size))
			fmt.Fprintf(w, "       sha256 %s\n", out.SHA256)
		}
	}
	fmt.Fprintf(w, "  arch     %s\n", res.Arch)
	fmt.Fprintf(w, "  kernel   %s", res.KernelVersion)
	if len(res.Packages) > 0 {
		var names []string
		for _, p := range res.Packages {
			names = append(names, p.Name+" "+p.Version)
		}
		fmt.Fprintf(w, " (%s)", strings.Join(names, ", "))
	}
	fmt.Fprintln(w)
	if o.verbose {
		fmt.Fprintf(w, "  modules  %d:\n", len(res.Modules))
		for _, line := range wrapWords(res.Modules, 72) {
			fmt.Fprintf(w, "    %s\n", line)
		}
	} else {
		fmt.Fprintf(w, "  modules  %d (list them with --verbose, or tbcompose inspect %s)\n", len(res.Modules), res.Output)
	}
	fmt.Fprintln(w, "  size breakdown:")
	for _, p := range res.Parts {
		fmt.Fprintf(w, "    %-16s %10s\n", p.Name, humanSize(p.Size))
	}
	if o.timings {
		fmt.Fprintln(w, "  timings:")
		var total time.Duration
		for _, t := range res.Timings {
			total += t.Duration
			note := ""
			if t.Cached {
				note = "  (cached)"
			}
			fmt.Fprintf(w, "    %-16s %10s%s\n", t.Stage, t.Duration.Round(time.Millisecond), note)
		}
		fmt.Fprintf(w, "    %-16s %10s\n", "total", total.Round(time.Millisecond))
	}
}

// wrapWords joins words into lines of at most width bytes (a longer word
// gets a line of its own).
func wrapWords(words []string, width int) []string {
	var lines []string
	var line strings.Builder
	for _, w := range words {
		if line.Len() > 0 && line.Len()+1+len(w) > width {
			lines = append(lines, line.String())
			line.Reset()
		}
		if line.Len() > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(w)
	}
	if line.Len() > 0 {
		lines = append(lines, line.String())
	}
	return lines
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
