package compose

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tinyboot/tinyboot/compose/assemble"
	"github.com/tinyboot/tinyboot/compose/initramfs"
	"github.com/tinyboot/tinyboot/internal/cache"
)

// Options tune a build; the zero value builds the spec as written.
type Options struct {
	// Output overrides the spec's output path: the file of the one format
	// written, or the directory of several.
	Output string
	// Formats override the spec's formats key (build --format).
	Formats []string
	// DiskSize is the raw format's disk size in bytes (build
	// --disk-size); 0 rounds the image up to a whole MiB.
	DiskSize int64
	// Compression of the initramfs; default zstd.
	Compression initramfs.Compression
	// AgentPath is a prebuilt agent; empty builds one from source.
	AgentPath string
	// CacheDir defaults to CacheDir().
	CacheDir string
	// CacheLimit is the size the cache is pruned to after the build;
	// default TINYBOOT_CACHE_LIMIT, else cache.DefaultLimit.
	CacheLimit int64
	// Epoch stamps every file time in the image; default SOURCE_DATE_EPOCH,
	// else DefaultEpoch, so builds are reproducible unless asked otherwise.
	Epoch time.Time
	// Lock says where tinyboot.lock is and how to use it.
	Lock LockOptions
	// ZoneinfoSHA256 pins the zone database a timezone ships; empty takes
	// the lock's pin, if any, else the toolchain's database as it is.
	ZoneinfoSHA256 string
	// Update asks the package archives for their current indexes, however
	// recent the cached ones are (build --update sets it).
	Update bool
	// HostSourcesDir is where the host's package sources are read when the
	// spec has no archive entry; default debarchive.HostSourcesDir.
	HostSourcesDir string
	// HTTPClient talks to the package archives; nil means one with
	// timeouts.
	HTTPClient *http.Client
	// Log gets one line per stage.
	Log *slog.Logger

	// archSuffix, set when a spec builds several architectures, goes
	// into every output name of the image being built (ArchOutput).
	archSuffix string
}

// DefaultEpoch is the time stamped into images when SOURCE_DATE_EPOCH is
// not set: a fixed date, so two builds of the same inputs are identical.
// FAT cannot record times before 1980.
var DefaultEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Part is one component's share of the image, for the size report.
type Part = assemble.Part

// Timing is how long one stage took.
type Timing = assemble.Timing

// Result describes a built image.
type Result = assemble.Result

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

// withDefaults fills in what the zero Options leave open.
func (o Options) withDefaults() (Options, error) {
	if o.Compression == "" {
		o.Compression = initramfs.Zstd
	}
	if o.CacheDir == "" {
		dir, err := CacheDir()
		if err != nil {
			return o, err
		}
		o.CacheDir = dir
	}
	if o.CacheLimit == 0 {
		n, err := cache.LimitFromEnv()
		if err != nil {
			return o, err
		}
		o.CacheLimit = n
	}
	if o.Epoch.IsZero() {
		e, err := EpochFromEnv()
		if err != nil {
			return o, err
		}
		o.Epoch = e
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	// Every path is made absolute once, here: later stages run commands
	// in other directories (go build runs in the app's module), where a
	// relative path would name another place.
	var err error
	if o.CacheDir, err = absPath("cache directory", o.CacheDir); err != nil {
		return o, err
	}
	if o.Output != "" {
		if o.Output, err = absPath("output", o.Output); err != nil {
			return o, err
		}
	}
	if o.AgentPath != "" {
		if o.AgentPath, err = absPath("--agent", o.AgentPath); err != nil {
			return o, err
		}
	}
	return o, nil
}

// absPath makes p absolute against the current directory.
func absPath(what, p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, p, err)
	}
	return abs, nil
}
