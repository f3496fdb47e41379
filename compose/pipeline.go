package compose

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tinyboot/tinyboot/compose/agentbin"
	"github.com/tinyboot/tinyboot/compose/app"
	"github.com/tinyboot/tinyboot/compose/initramfs"
	"github.com/tinyboot/tinyboot/compose/kernel"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// run executes the stages in order. Data flows one way: each stage reads
// what the earlier ones produced and nothing reads the spec's host paths
// after resolution.
func (b *builder) run() error {
	s := b.spec
	work, lock, err := createWorkDir(b.res.Output)
	if err != nil {
		return err
	}
	defer func() {
		lock.Close()
		os.RemoveAll(work)
	}()

	var k *kernel.Kernel
	if err := b.stage("kernel", func() (err error) {
		k, err = b.resolveKernel()
		return err
	}); err != nil {
		return err
	}
	b.res.KernelVersion, b.res.Packages = k.Version, k.Packages

	var mods []resolvedModule
	if err := b.stage("modules", func() (err error) {
		mods, err = b.resolveModules(k)
		return err
	}); err != nil {
		return err
	}
	for _, m := range mods {
		b.res.Modules = append(b.res.Modules, m.Name)
	}

	appBin := s.Resolve(s.App.Binary)
	if err := b.stage("app", func() error {
		if s.App.Go != "" {
			appBin = filepath.Join(work, "app")
			return app.BuildGo(b.ctx, s.App.Go, s.Dir, appBin)
		}
		return app.CheckBinary(appBin)
	}); err != nil {
		return err
	}

	agentBin := b.opts.AgentPath
	if err := b.stage("agent", func() (err error) {
		if agentBin == "" {
			agentBin, err = agentbin.Build(b.ctx, b.opts.CacheDir)
			return err
		}
		if err := app.CheckExecutable(agentBin); err != nil {
			return fmt.Errorf("--agent %w", err)
		}
		return nil
	}); err != nil {
		return err
	}

	var initrd []byte
	if err := b.stage("initramfs", func() (err error) {
		initrd, err = b.initramfs(k, mods, appBin, agentBin)
		return err
	}); err != nil {
		return err
	}

	// The ESP holding the UKI is cached by what it is made of, so a warm
	// build whose initramfs did not change reads it back instead of
	// assembling both again.
	var boot *bootImage
	if err := b.stage("uki", func() (err error) {
		boot, err = b.uki(k, initrd)
		return err
	}); err != nil {
		return err
	}
	if err := b.stage("esp", func() error {
		return b.esp(boot)
	}); err != nil {
		return err
	}
	return b.stage("iso", func() error {
		return b.iso(boot.esp, boot.ukiSize, work)
	})
}

func (b *builder) resolveKernel() (*kernel.Kernel, error) {
	s := b.spec
	r := &kernel.Resolver{CacheDir: b.opts.CacheDir, Log: b.log}
	switch {
	case s.Kernel.Package != "":
		if !b.lockedKernelCached(r) {
			a, err := b.archiveClient()
			if err != nil {
				return nil, fmt.Errorf("kernel.package %s: %w", s.Kernel.Package, err)
			}
			r.Archive = a
		}
		return r.Package(b.ctx, s.Kernel.Package, b.opts.Locked)
	case len(s.Kernel.Deb) > 0:
		var srcs []kernel.DebSource
		for _, d := range s.Kernel.Deb {
			src := kernel.DebSource{URL: d.URL, SHA256: d.SHA256}
			if d.Path != "" {
				src.Path = s.Resolve(d.Path)
			}
			srcs = append(srcs, src)
		}
		return r.Debs(b.ctx, srcs)
	default:
		return kernel.FromDir(s.Resolve(s.Kernel.Vmlinuz), s.Resolve(s.Kernel.ModulesDir))
	}
}

// initramfs packs the image's root filesystem as separately compressed
// segments: the parts that rarely change (modules, agent, certificates)
// at the strongest level, cached by content, and the app and spec at the
// default level, since they change on every edit.
func (b *builder) initramfs(k *kernel.Kernel, mods []resolvedModule, appBin, agentBin string) ([]byte, error) {
	s := b.spec
	cache := filepath.Join(b.opts.CacheDir, "initramfs")
	type part struct {
		name  string
		level initramfs.Level
		fill  func(a *initramfs.Archive) error
		// key, when set, names the content without reading it (see
		// initramfs.CompressKeyed): for the agent and module files, whose
		// cached paths are content-addressed.
		key string
	}
	var agentKey, modulesKey string
	if rel, err := filepath.Rel(b.opts.CacheDir, agentBin); err == nil && !strings.HasPrefix(rel, "..") && b.opts.AgentPath == "" {
		agentKey = rel
	}
	if k.TreeID != "" {
		var srcs []string
		for _, m := range mods {
			srcs = append(srcs, m.Source)
		}
		modulesKey = k.TreeID + "\x00" + k.Version + "\x00" + strings.Join(srcs, "\x00")
	}
	parts := []part{
		{"base", initramfs.Default, func(a *initramfs.Archive) error {
			for _, d := range []string{"/proc", "/sys", "/dev", "/run", "/tmp", "/etc", "/root", baked.ISOMount, baked.PersistentMount} {
				perm := os.FileMode(0o755)
				if d == "/tmp" {
					perm = 0o1777
				}
				if err := a.Dir(d, perm); err != nil {
					return err
				}
			}
			return nil
		}, ""},
		{"agent", initramfs.Best, func(a *initramfs.Archive) error {
			return a.HostFile("/init", 0o755, agentBin)
		}, agentKey},
		{"modules", initramfs.Best, func(a *initramfs.Archive) error {
			if err := a.Dir(filepath.Join("/lib/modules", k.Version), 0o755); err != nil {
				return err
			}
			for _, m := range mods {
				data, err := m.read(k)
				if err != nil {
					return err
				}
				if err := a.File(filepath.Join("/lib/modules", k.Version, m.Path), 0o644, data); err != nil {
					return err
				}
			}
			return nil
		}, modulesKey},
		{"certs", initramfs.Best, func(a *initramfs.Archive) error {
			return b.addCACerts(a)
		}, ""},
		{"app", initramfs.Best, func(a *initramfs.Archive) error {
			return a.HostFile(AppPath(s), 0o755, appBin)
		}, ""},
		{"spec", initramfs.Default, func(a *initramfs.Archive) error {
			bakedMods := make([]baked.Module, len(mods))
			for i, m := range mods {
				bakedMods[i] = baked.Module{Name: m.Name, Path: m.Path}
			}
			js, err := baked.Marshal(Bake(s, k.Version, bakedMods))
			if err != nil {
				return err
			}
			return a.File(baked.Path, 0o644, js)
		}, ""},
	}
	var out bytes.Buffer
	sizes := map[string]int64{}
	for _, p := range parts {
		var seg *initramfs.Segment
		var err error
		if p.key != "" {
			seg, err = initramfs.CompressKeyed(p.name, p.key, p.fill, b.opts.Epoch, b.opts.Compression, p.level, cache)
		} else {
			a := initramfs.New()
			if err := p.fill(a); err != nil {
				return nil, fmt.Errorf("initramfs %s: %w", p.name, err)
			}
			if len(a.Entries()) == 0 {
				continue
			}
			seg, err = initramfs.Compress(p.name, a, b.opts.Epoch, b.opts.Compression, p.level, cache)
		}
		if err != nil {
			return nil, fmt.Errorf("initramfs %s: %w", p.name, err)
		}
		sizes[p.name] = int64(len(seg.Data))
		out.Write(seg.Data)
	}
	// Sizes in the report are what each part costs in the image, compressed.
	b.addPart("agent", sizes["agent"])
	b.addPart("app", sizes["app"])
	b.addPart("modules", sizes["modules"])
	b.addPart("certs+spec", sizes["certs"]+sizes["spec"]+sizes["base"])
	return out.Bytes(), nil
}

// caBundles are where distributions keep the system's PEM bundle.
var caBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
	"/etc/ssl/ca-bundle.pem",             // openSUSE
	"/etc/ssl/cert.pem",                  // macOS, BSDs
}

// imageCABundle is where Go's crypto/x509 looks first on Linux.
const imageCABundle = "/etc/ssl/certs/ca-certificates.crt"

func (b *builder) addCACerts(a *initramfs.Archive) error {
	switch v := b.spec.CACerts; v {
	case "none":
		return nil
	case "", "system":
		for _, p := range caBundles {
			if _, err := os.Stat(p); err == nil {
				return a.HostFile(imageCABundle, 0o644, p)
			}
		}
		return fmt.Errorf("ca_certs: system: no CA bundle found on this machine (looked in %v); install ca-certificates, or set ca_certs to a PEM file or to none", caBundles)
	default:
		return a.HostFile(imageCABundle, 0o644, b.spec.Resolve(v))
	}
}
