package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
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
	update      bool
	locked      bool
}

var buildOpts buildFlags

func init() {
	cmd := &cobra.Command{
		Use:   "build [FILE]",
		Short: "Build the UEFI-bootable ISO a tinyboot.yaml describes",
		Long: `build validates the spec (with the same messages as validate), resolves the
kernel, its modules, the app and the agent, and writes a UEFI-bootable hybrid
ISO: it boots from a CD, a USB stick or a raw disk.

The first build of a spec using kernel.package records the packages it
resolved to in tinyboot.lock beside the spec; later builds use exactly those,
offline. --update resolves afresh; --locked (for CI) fails instead of writing
the lock. Set SOURCE_DATE_EPOCH to stamp a date other than the fixed default
into the image; the same inputs give the same bytes either way.`,
		Example: `  tbcompose build                      # ./tinyboot.yaml → <name>.iso next to it
  tbcompose build examples/tinyboot.yaml -o /tmp/hello.iso
  tbcompose build --locked --json      # CI: reproducible, machine-readable summary`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "tinyboot.yaml"
			if len(args) == 1 {
				path = args[0]
			}
			res, err := buildSpec(cmd, path, buildOpts)
			if err != nil {
				return err
			}
			if buildOpts.json {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			printSummary(cmd.OutOrStdout(), res, buildOpts.timings)
			return nil
		},
	}
	addBuildFlags(cmd, &buildOpts)
	cmd.Flags().BoolVar(&buildOpts.json, "json", false, "print the summary as JSON on stdout")
	cmd.Flags().BoolVar(&buildOpts.timings, "timings", false, "print each stage's wall time")
	rootCmd.AddCommand(cmd)
}

func addBuildFlags(cmd *cobra.Command, f *buildFlags) {
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "image path (default: the spec's output, else <name>.iso beside the spec)")
	cmd.Flags().StringVar(&f.compression, "compression", "zstd", "initramfs compression: zstd, xz, gzip or none")
	cmd.Flags().StringVar(&f.agent, "agent", "", "use this prebuilt agent binary instead of building one")
	cmd.Flags().BoolVar(&f.update, "update", false, "resolve kernel.package afresh and rewrite tinyboot.lock")
	cmd.Flags().BoolVar(&f.locked, "locked", false, "fail if tinyboot.lock is missing or does not match the spec (for CI)")
}

// buildForRun builds the image described by the spec at specPath, printing
// progress to cmd's stderr, and returns the image's path. `tbcompose run`
// calls it when given a spec rather than an image.
func buildForRun(cmd *cobra.Command, specPath string) (string, error) {
	res, err := buildSpec(cmd, specPath, buildFlags{compression: "zstd"})
	if err != nil {
		return "", err
	}
	printSummary(cmd.ErrOrStderr(), res, false)
	return res.Output, nil
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
	s.ApplyDefaults()

	lockPath := compose.LockPath(path)
	var lock *compose.Lock
	if s.Kernel.Package != "" && !f.update {
		lock, err = compose.ReadLock(lockPath)
		if err != nil {
			return nil, withCode(exitInvalid, err)
		}
		if lock != nil && lock.Kernel != s.Kernel.Package {
			if f.locked {
				return nil, withCode(exitInvalid, fmt.Errorf("%s pins kernel %q but the spec asks for %q; run tbcompose build --update and commit the lock", lockPath, lock.Kernel, s.Kernel.Package))
			}
			lock = nil
		}
		if lock == nil && f.locked {
			return nil, withCode(exitInvalid, fmt.Errorf("--locked: %s is missing; run tbcompose build once and commit the lock", lockPath))
		}
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := compose.Options{
		Output:      f.output,
		Compression: comp,
		AgentPath:   f.agent,
		Log:         slog.New(&stageHandler{w: stderr}),
	}
	if lock != nil {
		opts.Locked, opts.LockedStub = lock.Packages, lock.Stub
	}
	opts.Update = f.update
	res, err := compose.Build(ctx, s, opts)
	if err != nil {
		return nil, withCode(exitInvalid, fmt.Errorf("build %s: %w", path, err))
	}
	if s.Kernel.Package != "" && !f.locked {
		fresh := &compose.Lock{Version: compose.LockVersion, Kernel: s.Kernel.Package, Packages: res.Packages, Stub: res.Stub}
		if !fresh.Equal(lock) {
			if err := compose.WriteLock(lockPath, fresh); err != nil {
				return nil, withCode(exitInvalid, err)
			}
			fmt.Fprintf(stderr, "wrote %s\n", lockPath)
		}
	}
	return res, nil
}

// stageHandler prints the composer's progress as one plain line per stage.
type stageHandler struct {
	w     io.Writer
	attrs []slog.Attr
}

// Enabled drops debug records: they are for --json consumers and tests,
// not for the terminal.
func (h *stageHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *stageHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &stageHandler{w: h.w, attrs: append(append([]slog.Attr{}, h.attrs...), a...)}
}
func (h *stageHandler) WithGroup(string) slog.Handler { return h }
func (h *stageHandler) Handle(_ context.Context, r slog.Record) error {
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

func printSummary(w io.Writer, res *compose.Result, timings bool) {
	fmt.Fprintf(w, "%s  %s\n", res.Output, humanSize(res.Size))
	fmt.Fprintf(w, "  sha256   %s\n", res.SHA256)
	fmt.Fprintf(w, "  kernel   %s", res.KernelVersion)
	if len(res.Packages) > 0 {
		var names []string
		for _, p := range res.Packages {
			names = append(names, p.Name+" "+p.Version)
		}
		fmt.Fprintf(w, " (%s)", strings.Join(names, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  modules  %d: %s\n", len(res.Modules), strings.Join(res.Modules, " "))
	fmt.Fprintln(w, "  size breakdown:")
	for _, p := range res.Parts {
		fmt.Fprintf(w, "    %-12s %9s\n", p.Name, humanSize(p.Size))
	}
	if timings {
		fmt.Fprintln(w, "  timings:")
		var total time.Duration
		for _, t := range res.Timings {
			total += t.Duration
			fmt.Fprintf(w, "    %-12s %9s\n", t.Stage, t.Duration.Round(time.Millisecond))
		}
		fmt.Fprintf(w, "    %-12s %9s\n", "total", total.Round(time.Millisecond))
	}
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
