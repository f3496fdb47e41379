package assemble

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tinyboot/tinyboot/compose/esp"
	"github.com/tinyboot/tinyboot/compose/plan"
	"github.com/tinyboot/tinyboot/compose/uki"
	"github.com/tinyboot/tinyboot/internal/cache"
	"github.com/tinyboot/tinyboot/internal/fsutil"
)

// ESPBootPath is where the UKI of an amd64 image lives in the ESP: the
// removable-media path UEFI firmware boots without any boot entry (other
// architectures': internal/arch).
const ESPBootPath = "EFI/BOOT/BOOTX64.EFI"

// bootImage is the UKI and the ESP that holds it. An ESP read from the
// cache comes without the UKI's bytes (Parts.UKI reads them back).
type bootImage struct {
	uki                 []byte
	esp                 []byte
	ukiSize, kernelSize int64
}

// espKind is the cache directory of ESPs.
const espKind = "esp"

// bootCacheVersion changes whenever the UKI or ESP layout does.
const bootCacheVersion = "2"

// bootMeta is stored beside a cached ESP for the size report.
type bootMeta struct {
	UKISize    int64 `json:"uki_size"`
	KernelSize int64 `json:"kernel_size"`
}

// buildBoot makes the UKI and the ESP holding it. The ESP is cached by
// what it is made of, so a warm build whose initramfs did not change reads
// it back: then the "uki" stage is reported as cached and the "esp" stage
// is the read.
func buildBoot(ctx context.Context, p *plan.Plan, initrd []byte, store *cache.Cache, st *Stages) (*bootImage, error) {
	var stub []byte
	var key string
	var boot *bootImage
	if err := st.Run("uki", func() (bool, error) {
		var err error
		if stub, err = readStub(p.Stub); err != nil {
			return false, err
		}
		if err := checkStubArch(p, stub); err != nil {
			return false, err
		}
		if key, err = bootKey(p, stub, initrd); err != nil {
			return false, err
		}
		if meta, ok := readBootMeta(store, key); ok {
			boot = &bootImage{ukiSize: meta.UKISize, kernelSize: meta.KernelSize}
			return true, nil
		}
		boot, err = buildUKI(ctx, p, stub, initrd)
		return false, err
	}); err != nil {
		return nil, err
	}
	if err := st.Run("esp", func() (bool, error) {
		if boot.uki == nil {
			if b, ok := store.Get(espKind, key+".img"); ok {
				boot.esp = b
				return true, nil
			}
			// The pair lost its image since we looked: build both after all.
			var err error
			if boot, err = buildUKI(ctx, p, stub, initrd); err != nil {
				return false, err
			}
		}
		var out bytes.Buffer
		if _, err := esp.Build(&out, []esp.File{{Path: espBootPath(p), Data: bytes.NewReader(boot.uki), Size: boot.ukiSize}}, p.Epoch); err != nil {
			return false, fmt.Errorf("ESP: %w", err)
		}
		boot.esp = out.Bytes()
		storeBoot(store, key, boot)
		return false, nil
	}); err != nil {
		return nil, err
	}
	return boot, nil
}

// readStub reads the UEFI stub. Errors name the spec field when the user
// chose the stub, and the package that provides it when we did.
func readStub(in plan.Input) ([]byte, error) {
	stub, err := os.ReadFile(in.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && in.Missing != "" {
			return nil, errors.New(in.Missing)
		}
		return nil, fmt.Errorf("%s: %w; %s", in.Origin, err, in.Fix)
	}
	return stub, nil
}

// bootKey covers every input of the ESP: the stub's bytes, the kernel (by
// its content-addressed tree, else its bytes), the sections, the
// transforms and the time.
func bootKey(p *plan.Plan, stub, initrd []byte) (string, error) {
	k := p.Kernel
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00%s\x00", p.Epoch.Unix(), p.OSRelease, p.Cmdline, k.Version)
	h.Write(sha256Bytes(stub))
	h.Write(sha256Bytes(initrd))
	if k.TreeID != "" {
		fmt.Fprintf(h, "tree %s %s\x00", k.TreeID, filepath.Base(k.Vmlinuz))
	} else {
		sum, err := fsutil.SHA256File(k.Vmlinuz)
		if err != nil {
			return "", fmt.Errorf("kernel image %s: %w", k.Vmlinuz, err)
		}
		fmt.Fprintf(h, "file %s\x00", sum)
	}
	for _, t := range p.UKITransforms {
		fmt.Fprintf(h, "transform %s\x00", t.Key())
	}
	return cache.Key(espKind, bootCacheVersion, hex.EncodeToString(h.Sum(nil))), nil
}

func buildUKI(ctx context.Context, p *plan.Plan, stub, initrd []byte) (*bootImage, error) {
	k := p.Kernel
	vmlinuz, err := os.ReadFile(k.Vmlinuz)
	if err != nil {
		return nil, fmt.Errorf("kernel image %s: %w", k.Vmlinuz, err)
	}
	var out bytes.Buffer
	_, err = uki.Build(&out, stub, []uki.Section{
		uki.Bytes(uki.SectionOSRel, []byte(p.OSRelease)),
		uki.Bytes(uki.SectionCmdline, append([]byte(p.Cmdline), 0)),
		uki.Bytes(uki.SectionUname, []byte(k.Version)),
		uki.Bytes(uki.SectionLinux, vmlinuz).Aligned(bootAlign),
		uki.Bytes(uki.SectionInitrd, initrd).Aligned(bootAlign),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w; %s", p.Stub.Origin, err, p.Stub.Fix)
	}
	img := out.Bytes()
	for _, t := range p.UKITransforms {
		if img, err = t.Apply(ctx, img); err != nil {
			return nil, fmt.Errorf("UKI: %w", err)
		}
	}
	return &bootImage{uki: img, ukiSize: int64(len(img)), kernelSize: int64(len(vmlinuz))}, nil
}

func readBootMeta(store *cache.Cache, key string) (bootMeta, bool) {
	var meta bootMeta
	if _, err := os.Stat(store.Path(espKind, key+".img")); err != nil {
		return meta, false
	}
	mb, ok := store.Get(espKind, key+".json")
	return meta, ok && json.Unmarshal(mb, &meta) == nil && meta.UKISize > 0
}

// storeBoot caches a fresh ESP. Only speed is lost if caching fails; the
// metadata goes last so a half-written pair is never used.
func storeBoot(store *cache.Cache, key string, boot *bootImage) {
	if store.Put(espKind, key+".img", boot.esp) == nil {
		if mb, err := json.Marshal(bootMeta{UKISize: boot.ukiSize, KernelSize: boot.kernelSize}); err == nil {
			_ = store.Put(espKind, key+".json", mb)
		}
	}
}

func sha256Bytes(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
