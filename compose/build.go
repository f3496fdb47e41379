package compose

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tinyboot/tinyboot/compose/debarchive"
	"github.com/tinyboot/tinyboot/compose/initramfs"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/spec"
)

// Options tune a build; the zero value builds the spec as written.
type Options struct {
	// Output overrides the spec's output path.
	Output string
	// Compression of the initramfs; default zstd.
	Compression initramfs.Compression
	// AgentPath is a prebuilt agent; empty builds one from source.
	AgentPath string
	// CacheDir defaults to CacheDir().
	CacheDir string
	// Epoch stamps every file time in the image; default SOURCE_DATE_EPOCH,
	// else DefaultEpoch, so builds are reproducible unless asked otherwise.
	Epoch time.Time
	// Locked pins the kernel packages (from tinyboot.lock); nil resolves
	// them afresh.
	Locked []kernel.Package
	// LockedStub pins the systemd-boot-efi package the default UEFI stub
	// comes from; nil resolves it afresh.
	LockedStub *kernel.Package
	// Update asks the package archives for their current indexes, however
	// recent the cached ones are.
	Update bool
	// HostSourcesDir is where the host's package sources are read when the
	// spec has no archive entry; default debarchive.HostSourcesDir.
	HostSourcesDir string
	// HTTPClient talks to the package archives; nil means one with
	// timeouts.
	HTTPClient *http.Client
	// Log gets one line per stage.
	Log *slog.Logger
}

// DefaultEpoch is the time stamped into images when SOURCE_DATE_EPOCH is
// not set: a fixed date, so two builds of the same inputs are identical.
// FAT cannot record times before 1980.
var DefaultEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Part is one component's share of the image, for the size report.
type Part struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Timing is how long one stage took.
type Timing struct {
	Stage    string        `json:"stage"`
	Duration time.Duration `json:"duration_ns"`
}

// Result describes a built image.
type Result struct {
	Output        string           `json:"output"`
	Size          int64            `json:"size"`
	SHA256        string           `json:"sha256"`
	KernelVersion string           `json:"kernel_version"`
	Packages      []kernel.Package `json:"kernel_packages,omitempty"`
	// Stub is the package the default UEFI stub came from; nil when the
	// spec sets kernel.stub.
	Stub    *kernel.Package `json:"stub_package,omitempty"`
	Modules []string        `json:"modules"`
	Parts   []Part          `json:"parts"`
	Timings []Timing        `json:"timings"`
}

// EpochFromEnv reads SOURCE_DATE_EPOCH (seconds since 1970), the
// reproducible-builds convention.
func EpochFromEnv() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return DefaultEpoch, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970", v)
	}
	return time.Unix(n, 0).UTC(), nil
}

// builder carries one build's state from stage to stage.
type builder struct {
	ctx  context.Context
	spec *spec.Spec
	opts Options
	log  *slog.Logger
	res  *Result
	// archive is made on first use by archiveClient.
	archive *debarchive.Client
}

// Build composes the image s describes. s must be loaded and valid, with
// defaults applied.
func Build(ctx context.Context, s *spec.Spec, opts Options) (*Result, error) {
	if opts.Compression == "" {
		opts.Compression = initramfs.Zstd
	}
	if opts.CacheDir == "" {
		dir, err := CacheDir()
		if err != nil {
			return nil, err
		}
		opts.CacheDir = dir
	}
	if opts.HostSourcesDir == "" {
		opts.HostSourcesDir = debarchive.HostSourcesDir
	}
	if opts.Epoch.IsZero() {
		e, err := EpochFromEnv()
		if err != nil {
			return nil, err
		}
		opts.Epoch = e
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	out := opts.Output
	if out == "" {
		out = s.Resolve(s.Output)
	}
	if out == "" {
		out = filepath.Join(s.Dir, s.Name+".iso")
	}
	b := &builder{ctx: ctx, spec: s, opts: opts, log: log, res: &Result{Output: out}}
	if err := b.run(); err != nil {
		return nil, err
	}
	return b.res, nil
}

// stage runs fn as a named, timed stage.
func (b *builder) stage(name string, fn func() error) error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	err := fn()
	d := time.Since(start)
	b.res.Timings = append(b.res.Timings, Timing{Stage: name, Duration: d})
	if err != nil {
		return err
	}
	b.log.Info(name, "took", d.Round(time.Millisecond))
	return nil
}

func (b *builder) addPart(name string, size int64) {
	b.res.Parts = append(b.res.Parts, Part{Name: name, Size: size})
}
