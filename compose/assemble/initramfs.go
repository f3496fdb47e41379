package assemble

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tinyboot/tinyboot/compose/initramfs"
	"github.com/tinyboot/tinyboot/compose/kmod"
	"github.com/tinyboot/tinyboot/compose/plan"
	"github.com/tinyboot/tinyboot/internal/cache"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// initrdImage is the concatenated initramfs and what each segment costs.
type initrdImage struct {
	data  []byte
	sizes map[string]int64
	// cached is true when every segment came from the cache.
	cached bool
}

// imageCABundle is where Go's crypto/x509 looks first on Linux.
const imageCABundle = "/etc/ssl/certs/ca-certificates.crt"

// segment is one part of the initramfs.
type segment struct {
	name  string
	level initramfs.Level
	fill  func(a *initramfs.Archive) error
	// key, when set, names the content without reading it (see
	// initramfs.CompressKeyed): for the module files, whose
	// cached paths are content-addressed.
	key string
}

// buildInitramfs packs the image's root filesystem as separately
// compressed segments: the parts that rarely change (modules, agent,
// certificates) at the strongest level, cached by content, and the app and
// spec at the default level, since they change on every edit.
func buildInitramfs(p *plan.Plan, appBin, agentBin string, store *cache.Cache) (*initrdImage, error) {
	k := p.Kernel
	if p.App.ISOPath != "" {
		appBin = "" // the app goes onto the ISO instead (app.run_from: iso)
	}
	segs := []segment{
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
		{"agent+app", initramfs.Best, func(a *initramfs.Archive) error {
			return addBinaries(a, agentBin, p.App.ImagePath, appBin)
		}, ""},
		{"modules", initramfs.Best, func(a *initramfs.Archive) error {
			if err := a.Dir(filepath.Join("/lib/modules", k.Version), 0o755); err != nil {
				return err
			}
			for _, m := range p.Modules {
				data, err := readModule(k.ModulesDir, m)
				if err != nil {
					return err
				}
				if p.SlimModules {
					if data, err = kmod.Slim(data); err != nil {
						return fmt.Errorf("module %s (%s): %w", m.Name, m.Source, err)
					}
				}
				if err := a.File(filepath.Join("/lib/modules", k.Version, m.Path), 0o644, data); err != nil {
					return err
				}
			}
			return nil
		}, p.Keys.Modules},
		{"certs", initramfs.Best, func(a *initramfs.Archive) error {
			if p.CACerts.Path == "" {
				return nil
			}
			return a.HostFile(imageCABundle, 0o644, p.CACerts.Path)
		}, ""},
		{"spec", initramfs.Default, func(a *initramfs.Archive) error {
			js, err := baked.Marshal(p.Config)
			if err != nil {
				return err
			}
			return a.File(baked.Path, 0o644, js)
		}, ""},
		{"files", initramfs.Default, func(a *initramfs.Archive) error {
			for _, f := range p.Files {
				var err error
				switch {
				case f.Link != "":
					err = a.Symlink(f.Path, f.Link)
				case f.Host != "":
					err = a.HostFile(f.Path, f.Mode, f.Host)
				default:
					err = a.File(f.Path, f.Mode, f.Data)
				}
				if err != nil {
					return err
				}
			}
			return nil
		}, ""},
	}
	img := &initrdImage{sizes: map[string]int64{}, cached: true}
	var out bytes.Buffer
	for _, s := range segs {
		var seg *initramfs.Segment
		var err error
		if s.key != "" {
			seg, err = initramfs.CompressKeyed(s.name, s.key, s.fill, p.Epoch, p.Compression, s.level, store)
		} else {
			a := initramfs.New()
			if err := s.fill(a); err != nil {
				return nil, fmt.Errorf("initramfs %s: %w", s.name, err)
			}
			if len(a.Entries()) == 0 {
				continue
			}
			seg, err = initramfs.Compress(s.name, a, p.Epoch, p.Compression, s.level, store)
		}
		if err != nil {
			return nil, fmt.Errorf("initramfs %s: %w", s.name, err)
		}
		img.sizes[s.name] = int64(len(seg.Data))
		img.cached = img.cached && seg.Cached
		out.Write(seg.Data)
	}
	img.data = out.Bytes()
	return img, nil
}

// readModule returns a module's uncompressed bytes.
func readModule(modulesDir string, m plan.Module) ([]byte, error) {
	f, err := os.Open(filepath.Join(modulesDir, m.Source))
	if err != nil {
		return nil, fmt.Errorf("modules: %s: %w", m.Name, err)
	}
	defer f.Close()
	data, err := kmod.Decompress(m.Source, f)
	if err != nil {
		return nil, fmt.Errorf("modules: %s (%s): %w; the kernel's module file is damaged: unpack or download the kernel again", m.Name, m.Source, err)
	}
	return data, nil
}
