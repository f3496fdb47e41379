package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// bench holds the paths every part uses and collects the results.
type bench struct {
	cfg config
	log *slog.Logger
	res *results

	composer, agent, app string // prebuilt binaries
	spec                 string // the bench copy of the example spec
	specDir              string
	seedDebs             string // downloaded kernel .debs, reused by later cold builds
	warmCache            string
	image                string // the tbcompose image of the spec, built warm
}

// prepare builds the composer, agent and app once and writes the bench
// spec: the example with app.binary instead of app.go.
func (b *bench) prepare(ctx context.Context) error {
	bin := filepath.Join(b.cfg.Work, "bin")
	b.composer, b.agent, b.app = filepath.Join(bin, "tbcompose"), filepath.Join(bin, "tbagent"), filepath.Join(bin, "app")
	specPath, err := filepath.Abs(b.cfg.Spec)
	if err != nil {
		return err
	}
	srcDir := filepath.Dir(specPath)
	builds := []struct{ dir, pkg, out string }{
		{".", "./cmd/tbcompose", b.composer},
		{".", "./cmd/tbagent", b.agent},
		{filepath.Join(srcDir, "hello"), ".", b.app},
	}
	for _, bd := range builds {
		// The same flags tbcompose uses for apps and the agent, so the
		// image content matches what an ordinary build ships.
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", bd.out, bd.pkg)
		cmd.Dir = bd.dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", bd.pkg, err, out)
		}
	}
	b.specDir = filepath.Join(b.cfg.Work, "spec")
	if err := os.MkdirAll(b.specDir, 0o755); err != nil {
		return err
	}
	text, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	// Plain text edits keep the spec exactly as written otherwise; the
	// spec types have no YAML writer for durations.
	s, err := replaceOnce(string(text), "  go: ./hello\n", "  binary: "+b.app+"\n")
	if err != nil {
		return fmt.Errorf("%s: %w", specPath, err)
	}
	if s, err = replaceOnce(s, "{src: ./www,", "{src: "+filepath.Join(srcDir, "www")+","); err != nil {
		return fmt.Errorf("%s: %w", specPath, err)
	}
	b.spec = filepath.Join(b.specDir, "tinyboot.yaml")
	if err := os.WriteFile(b.spec, []byte(s), 0o644); err != nil {
		return err
	}
	// The lock pins the kernel, so warm builds never ask apt.
	if lock, err := os.ReadFile(filepath.Join(srcDir, "tinyboot.lock")); err == nil {
		if err := os.WriteFile(filepath.Join(b.specDir, "tinyboot.lock"), lock, 0o644); err != nil {
			return err
		}
	}
	b.warmCache = filepath.Join(b.cfg.Work, "cache-warm")
	b.seedDebs = filepath.Join(b.cfg.Work, "debs")
	return nil
}

func replaceOnce(s, old, new string) (string, error) {
	if n := strings.Count(s, old); n != 1 {
		return "", fmt.Errorf("expected %q once, found it %d times", old, n)
	}
	return strings.Replace(s, old, new, 1), nil
}

// build runs tbcompose on the bench spec with the prebuilt agent.
func (b *bench) build(ctx context.Context, cache, out string, extra ...string) (*composeRun, error) {
	args := append([]string{b.spec, "-o", out, "--agent", b.agent}, extra...)
	r, err := tbcompose(ctx, b.composer, cache, args...)
	if err != nil {
		return nil, err
	}
	if len(extra) == 0 {
		b.res.SHA256s = append(b.res.SHA256s, r.Result.SHA256)
	}
	return r, nil
}

// seedCache makes a fresh cache holding only the downloaded .debs (hard
// links), so a cold build skips nothing but the download.
func (b *bench) seedCache(dir string) error {
	debs := filepath.Join(dir, "tinyboot", "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(b.seedDebs)
	if err != nil {
		return fmt.Errorf("no downloaded kernel to seed the cache with: %w", err)
	}
	for _, e := range entries {
		if err := os.Link(filepath.Join(b.seedDebs, e.Name()), filepath.Join(debs, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// cold builds with empty caches: first downloading the kernel, then with
// only the .debs in place.
func (b *bench) cold(ctx context.Context) error {
	out := filepath.Join(b.cfg.Work, "cold.iso")
	downloads := b.cfg.ColdDownload
	if b.cfg.Skip["download"] {
		downloads = 0
	}
	for i := range downloads {
		cache := filepath.Join(b.cfg.Work, fmt.Sprintf("cache-dl-%d", i))
		r, err := b.build(ctx, cache, out)
		if err != nil {
			return err
		}
		b.log.Info("cold build with download", "wall", r.Wall)
		b.res.ColdDownload = append(b.res.ColdDownload, r)
		if i == 0 {
			if err := os.Rename(filepath.Join(cache, "tinyboot", "debs"), b.seedDebs); err != nil {
				return err
			}
		}
		if err := os.RemoveAll(cache); err != nil {
			return err
		}
	}
	if _, err := os.Stat(b.seedDebs); err != nil {
		// No download measured: take the .debs from the user's cache, or
		// let the first build download them untimed.
		if err := b.fetchDebs(ctx); err != nil {
			return err
		}
	}
	for i := range b.cfg.Cold {
		cache := filepath.Join(b.cfg.Work, fmt.Sprintf("cache-cold-%d", i))
		if err := b.seedCache(cache); err != nil {
			return err
		}
		r, err := b.build(ctx, cache, out)
		if err != nil {
			return err
		}
		b.log.Info("cold build", "wall", r.Wall)
		b.res.Cold = append(b.res.Cold, r)
		if err := os.RemoveAll(cache); err != nil {
			return err
		}
	}
	return os.RemoveAll(out)
}

// fetchDebs fills seedDebs with one untimed build.
func (b *bench) fetchDebs(ctx context.Context) error {
	cache := filepath.Join(b.cfg.Work, "cache-fetch")
	if _, err := b.build(ctx, cache, filepath.Join(b.cfg.Work, "fetch.iso")); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(cache, "tinyboot", "debs"), b.seedDebs); err != nil {
		return err
	}
	os.Remove(filepath.Join(b.cfg.Work, "fetch.iso"))
	return os.RemoveAll(cache)
}

// ensureImage builds the image once into the warm cache, so later parts
// start warm whatever was skipped.
func (b *bench) ensureImage(ctx context.Context) error {
	if b.image != "" {
		return nil
	}
	if _, err := os.Stat(b.seedDebs); err != nil {
		if err := b.fetchDebs(ctx); err != nil {
			return err
		}
	}
	if _, err := os.Stat(b.warmCache); err != nil {
		if err := b.seedCache(b.warmCache); err != nil {
			return err
		}
	}
	b.image = filepath.Join(b.cfg.Work, "tbcompose.iso")
	_, err := b.build(ctx, b.warmCache, b.image)
	return err
}

// warm runs tbcompose and the pipeline at two zstd levels in turn on the
// same content, after one untimed build that fills tbcompose's cache.
func (b *bench) warm(ctx context.Context) error {
	if err := b.ensureImage(ctx); err != nil {
		return err
	}
	in, err := unpackImage(ctx, b.image, filepath.Join(b.cfg.Work, "unpacked"))
	if err != nil {
		return err
	}
	vol, err := volumeLabel(b.image)
	if err != nil {
		return err
	}
	b.res.Unpacked = in
	script, err := filepath.Abs("bench/pipeline.sh")
	if err != nil {
		return err
	}
	p := pipelineInput{Script: script, In: in, Payload: filepath.Join(filepath.Dir(b.cfg.Spec), "www"), VolID: vol, Work: filepath.Join(b.cfg.Work, "pipeline")}
	if p.Payload, err = filepath.Abs(p.Payload); err != nil {
		return err
	}
	out := filepath.Join(b.cfg.Work, "warm.iso")
	for i := range b.cfg.Runs {
		r, err := b.build(ctx, b.warmCache, out)
		if err != nil {
			return err
		}
		b.res.Warm = append(b.res.Warm, r)
		for _, level := range pipelineLevels {
			pr, err := pipeline(ctx, p, level, b.pipelineISO(level))
			if err != nil {
				return err
			}
			b.res.Pipeline[level] = append(b.res.Pipeline[level], pr)
		}
		b.log.Info("warm round", "run", i+1, "tbcompose", r.Wall, "pipeline", b.res.Pipeline[pipelineLevels[0]][i].Wall)
	}
	if b.res.XZ9Initrd, err = xzSize(ctx, in.RawCPIO); err != nil {
		return err
	}
	xz, err := b.build(ctx, b.warmCache, filepath.Join(b.cfg.Work, "xz.iso"), "--compression", "xz")
	if err != nil {
		return err
	}
	b.res.XZSize = xz.Result.Size
	os.Remove(filepath.Join(b.cfg.Work, "xz.iso"))
	return os.Remove(out)
}

func (b *bench) pipelineISO(level int) string {
	return filepath.Join(b.cfg.Work, fmt.Sprintf("pipeline-%d.iso", level))
}

// boots boots the tbcompose image, then the pipeline's once to show it
// is a working image too.
func (b *bench) boots(ctx context.Context) error {
	if b.cfg.Boots == 0 {
		return nil
	}
	if err := b.ensureImage(ctx); err != nil {
		return err
	}
	disk := filepath.Join(b.cfg.Work, "disk.img")
	cmd := exec.CommandContext(ctx, b.composer, "disk", "create", disk, "--force", "--label", "tinyboot", "--size", "256M")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("disk create: %w\n%s", err, out)
	}
	for i := range b.cfg.Boots {
		r, err := boot(ctx, b.image, disk, appLine, bootTimeout)
		if err != nil {
			return err
		}
		b.log.Info("boot", "run", i+1, "app", r.App, "agent own", r.Guest.AgentOwn())
		b.res.Boots = append(b.res.Boots, r)
	}
	pipe := b.pipelineISO(pipelineLevels[len(pipelineLevels)-1])
	if _, err := os.Stat(pipe); err == nil {
		r, err := boot(ctx, pipe, disk, appLine, bootTimeout)
		if err != nil {
			b.res.PipelineBootErr = err.Error()
		} else {
			b.res.PipelineBoot = r
		}
	}
	return nil
}

// memory builds with one large payload file, sparse and then written out,
// and records the composer's peak RSS.
func (b *bench) memory(ctx context.Context) error {
	if err := b.ensureImage(ctx); err != nil {
		return err
	}
	dir := filepath.Join(b.cfg.Work, "payload")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	spec := filepath.Join(b.specDir, "payload.yaml")
	text, err := os.ReadFile(b.spec)
	if err != nil {
		return err
	}
	s, err := replaceOnce(string(text), "\nfiles:\n", "\nfiles:\n  - {src: "+dir+", dst: /data}\n")
	if err != nil {
		return err
	}
	if err := os.WriteFile(spec, []byte(s), 0o644); err != nil {
		return err
	}
	out := filepath.Join(b.cfg.Work, "payload.iso")
	defer os.Remove(out)
	for _, dense := range []bool{false, true} {
		if dense && b.cfg.Skip["dense"] {
			continue
		}
		if dense {
			// The payload, the composer's copy of it and the image.
			var st unix.Statfs_t
			if err := unix.Statfs(b.cfg.Work, &st); err != nil {
				return err
			}
			if free := int64(st.Bavail) * st.Bsize; free < 3*b.cfg.Payload+(1<<30) {
				b.res.MemoryNote = fmt.Sprintf("dense payload skipped: %s free, need %s", mib(free), mib(3*b.cfg.Payload+(1<<30)))
				continue
			}
		}
		file := filepath.Join(dir, "blob")
		if err := makePayload(file, b.cfg.Payload, dense); err != nil {
			return err
		}
		r, err := tbcompose(ctx, b.composer, b.warmCache, spec, "-o", out, "--agent", b.agent)
		if err != nil {
			return err
		}
		b.log.Info("payload build", "dense", dense, "maxrss", mib(r.MaxRSS), "wall", r.Wall)
		b.res.Memory = append(b.res.Memory, memoryRun{Dense: dense, Size: b.cfg.Payload, Run: r})
		if err := os.Remove(file); err != nil {
			return err
		}
		if err := os.Remove(out); err != nil {
			return err
		}
	}
	return nil
}

// xzSize is how small xz(1) at its strongest setting makes the initramfs,
// with the CRC32 check the kernel's decoder needs: the floor a strong
// compressor reaches on the same bytes.
func xzSize(ctx context.Context, path string) (int64, error) {
	var n countWriter
	cmd := exec.CommandContext(ctx, "xz", "-9e", "--check=crc32", "-T0", "-c", path)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &n, &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("xz: %w: %s", err, stderr.Bytes())
	}
	return int64(n), nil
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
