package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

// diskFS describes a filesystem `disk create` can make.
type diskFS struct {
	tool     string // mkfs program
	pkg      string // Debian package that ships it
	maxLabel int    // bytes
	minSize  int64  // bytes; smaller images are refused before mkfs runs
	minText  string // minSize for people
}

var diskFilesystems = map[string]diskFS{
	// mkfs.btrfs refuses anything under 114294784 bytes.
	"btrfs": {tool: "mkfs.btrfs", pkg: "btrfs-progs", maxLabel: 255, minSize: 114294784, minText: "109 MiB (114294784 bytes)"},
	"ext4":  {tool: "mkfs.ext4", pkg: "e2fsprogs", maxLabel: 16, minSize: 1 << 20, minText: "1 MiB"},
}

// diskUUIDSpace is the namespace of the name-based UUIDs given to volumes,
// so the same label, size and filesystem always get the same UUID.
var diskUUIDSpace = uuid.MustParse("6f2b1c1e-7d0a-4f5e-9a43-2b8f3d6c1a90")

type diskCreateOptions struct {
	label string
	size  string
	fs    string
	force bool
	// cidata makes a NoCloud drive from this env file instead (cidata.go).
	cidata               string
	hostname, instanceID string
}

func newDiskCmd() *cobra.Command {
	disk := &cobra.Command{
		Use:   "disk",
		Short: "Make persistent volume images for `tbcompose run --disk`",
	}
	o := &diskCreateOptions{}
	create := &cobra.Command{
		Use:   "create FILE",
		Short: "Create a volume image file holding an empty filesystem",
		Long: `Create FILE, a sparse image of --size holding an empty btrfs or ext4
filesystem labelled --label, ready to attach with ` + "`tbcompose run --disk FILE`" + `.
No root is needed. An existing FILE is left alone unless --force is given.
The filesystem UUID is derived from the filesystem, label and size; ext4
images are byte-for-byte reproducible (set SOURCE_DATE_EPOCH to choose
their timestamps), btrfs images are not (mkfs.btrfs has random ids).`,
		Example: `  tbcompose disk create data.img --label tinyboot --size 256M
  tbcompose disk create data.img --fs ext4 --size 64M`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.create(args[0])
		},
	}
	f := create.Flags()
	f.StringVar(&o.label, "label", "tinyboot", "filesystem label (btrfs: up to 255 bytes, ext4: up to 16)")
	f.StringVar(&o.size, "size", "256M", "image size, in bytes or with a K, M or G suffix (powers of 1024)")
	f.StringVar(&o.fs, "fs", "btrfs", "filesystem: btrfs or ext4")
	f.BoolVar(&o.force, "force", false, "overwrite FILE if it exists")
	addCidataFlags(f, o)
	disk.AddCommand(create)
	return disk
}

func init() { rootCmd.AddCommand(newDiskCmd()) }

var sizeRE = regexp.MustCompile(`^([0-9]+)([KMGkmg]?)$`)

// parseSize parses a byte count with an optional K, M or G suffix
// (powers of 1024).
func parseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional K, M or G suffix", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	shift := map[string]uint{"": 0, "K": 10, "M": 20, "G": 30}[strings.ToUpper(m[2])]
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n << shift, nil
}

// check validates the options and returns the filesystem and size.
func (o *diskCreateOptions) check() (diskFS, int64, error) {
	fsys, ok := diskFilesystems[o.fs]
	if !ok {
		return diskFS{}, 0, fmt.Errorf("--fs %q: want btrfs or ext4", o.fs)
	}
	size, err := parseSize(o.size)
	if err != nil {
		return diskFS{}, 0, err
	}
	if size%4096 != 0 {
		return diskFS{}, 0, fmt.Errorf("size %s is not a multiple of 4 KiB", o.size)
	}
	if size < fsys.minSize {
		return diskFS{}, 0, fmt.Errorf("size %s is too small: %s needs at least %s", o.size, o.fs, fsys.minText)
	}
	switch {
	case o.label == "":
		return diskFS{}, 0, errors.New("--label must not be empty")
	case len(o.label) > fsys.maxLabel:
		return diskFS{}, 0, fmt.Errorf("--label %q is %d bytes; %s labels hold at most %d", o.label, len(o.label), o.fs, fsys.maxLabel)
	case strings.IndexFunc(o.label, unicode.IsControl) >= 0:
		return diskFS{}, 0, fmt.Errorf("--label %q holds control characters", o.label)
	}
	return fsys, size, nil
}

func (o *diskCreateOptions) create(path string) error {
	if o.cidata != "" {
		return o.createCidata(path)
	}
	fsys, size, err := o.check()
	if err != nil {
		return withCode(exitUsage, err)
	}
	if err := mayCreate(path, o.force); err != nil {
		return err
	}
	tool, err := findSbinTool(fsys.tool, fsys.pkg)
	if err != nil {
		return withCode(exitInvalid, err)
	}
	if err := makeVolume(path, tool, o.fs, o.label, size, o.force); err != nil {
		return withCode(exitInvalid, err)
	}
	return nil
}

// mayCreate refuses an existing path unless force, and anything but a
// regular file even then.
func mayCreate(path string, force bool) error {
	if fi, err := os.Lstat(path); err == nil {
		if !force {
			return withCode(exitInvalid, fmt.Errorf("%s already exists; pass --force to overwrite it", path))
		}
		if !fi.Mode().IsRegular() {
			return withCode(exitInvalid, fmt.Errorf("%s is not a regular file; refusing to replace it", path))
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return withCode(exitInvalid, fmt.Errorf("disk create: %w", err))
	}
	return nil
}

// sbinDirs are searched after PATH: mkfs tools live in /usr/sbin, which
// is not on an ordinary user's PATH on Debian.
var sbinDirs = []string{"/usr/sbin", "/sbin"}

func findSbinTool(name, pkg string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range sbinDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not installed; install it with `apt-get install %s`", name, pkg)
}

// makeVolume builds the image under a temporary name next to path and
// moves it into place only once mkfs has succeeded, so path never holds
// a half-made filesystem.
func makeVolume(path, tool, fsName, label string, size int64, force bool) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("disk create: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	// Truncate makes the file sparse: a 1 GiB volume costs only what mkfs
	// writes.
	if err := tmp.Truncate(size); err != nil {
		tmp.Close()
		return fmt.Errorf("disk create: size %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("disk create: %w", err)
	}

	id := uuid.NewSHA1(diskUUIDSpace, fmt.Appendf(nil, "%s\x00%s\x00%d", fsName, label, size))
	var cmd *exec.Cmd
	switch fsName {
	case "btrfs":
		cmd = exec.Command(tool, "-q", "-f", "-K", "-L", label, "-U", id.String(), tmp.Name())
	case "ext4":
		seed := uuid.NewSHA1(id, []byte("hash_seed"))
		cmd = exec.Command(tool, "-q", "-F", "-t", "ext4", "-L", label, "-U", id.String(),
			"-E", "root_owner=0:0,nodiscard,hash_seed="+seed.String(), tmp.Name())
		cmd.Env = append(os.Environ(), reproducibleTimeEnv()...)
	default:
		return fmt.Errorf("disk create: unknown filesystem %q", fsName)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(tool), path, err, strings.TrimSpace(string(out)))
	}

	if f, err := os.OpenFile(tmp.Name(), os.O_RDWR, 0); err == nil {
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("disk create: sync: %w", err)
		}
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("disk create: %w", err)
	}
	if force {
		err = os.Rename(tmp.Name(), path)
	} else {
		// A hard link fails if path appeared meanwhile, where a rename
		// would silently replace it.
		// Filesystems without hard links get the racy check.
		err = os.Link(tmp.Name(), path)
		switch {
		case err == nil:
			os.Remove(tmp.Name())
		case errors.Is(err, fs.ErrExist):
			err = fmt.Errorf("%s already exists; pass --force to overwrite it", path)
		default:
			if _, serr := os.Lstat(path); serr == nil {
				err = fmt.Errorf("%s already exists; pass --force to overwrite it", path)
			} else {
				err = os.Rename(tmp.Name(), path)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("disk create: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// reproducibleTimeEnv fixes the timestamps mke2fs writes. e2fsprogs reads
// E2FSPROGS_FAKE_TIME (and newer releases SOURCE_DATE_EPOCH); 0 means
// "now" to it, so the default epoch is 1.
func reproducibleTimeEnv() []string {
	epoch := "1"
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseUint(s, 10, 32); err == nil && n > 0 {
			epoch = s
		}
	}
	return []string{"E2FSPROGS_FAKE_TIME=" + epoch, "SOURCE_DATE_EPOCH=" + epoch}
}
