package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// The Debian packages ISOLINUX comes from.
const (
	IsolinuxPackage       = "isolinux"
	SyslinuxCommonPackage = "syslinux-common"
)

// BIOSLoader is ISOLINUX, the PC BIOS loader of the hybrid ISO, as host
// files taken out of Debian's packages.
type BIOSLoader struct {
	// IsolinuxBin is the El Torito boot image.
	IsolinuxBin string
	// LdlinuxC32 is the loader's core module, which isolinux.bin loads
	// from the ISO's directory it lives in.
	LdlinuxC32 string
	// MBR is isohdpfx.bin, the MBR boot code that starts isolinux.bin
	// when the ISO is a disk or USB stick.
	MBR string
	// Packages are the packages the files came from, in biosPackages
	// order, for the lock.
	Packages []Package
}

// biosPackages are the packages ISOLINUX needs, in lock order, and the
// files taken from each.
var biosPackages = []struct {
	name    string
	members []string
}{
	{IsolinuxPackage, []string{"usr/lib/ISOLINUX/isolinux.bin", "usr/lib/ISOLINUX/isohdpfx.bin"}},
	{SyslinuxCommonPackage, []string{"usr/lib/syslinux/modules/bios/ldlinux.c32"}},
}

// BIOSLoader returns ISOLINUX's files from the archive's isolinux and
// syslinux-common (exactly locked ones when locked is set). ISOLINUX
// exists for x86 only. The files are cached by their package's sha256, so
// a locked build with them cached needs no network.
func (r *Resolver) BIOSLoader(ctx context.Context, locked []Package) (*BIOSLoader, error) {
	if a := r.arch(); a != "amd64" && a != "i386" {
		return nil, fmt.Errorf("BIOS boot: ISOLINUX exists for x86 only, not %s", a)
	}
	pins := map[string]Package{}
	for _, p := range locked {
		pins[p.Name] = p
	}
	out := &BIOSLoader{}
	files := map[string]string{}
	for _, bp := range biosPackages {
		p, ok := pins[bp.name]
		if !ok {
			if r.Archive == nil {
				return nil, errors.New("BIOS loader: no archive configured; set kernel.isolinux")
			}
			found, err := r.Archive.Find(ctx, bp.name, r.arch(), "")
			if err != nil {
				return nil, fmt.Errorf("BIOS loader (package %s): %w; or set kernel.isolinux", bp.name, err)
			}
			p = packageOf(found)
		}
		out.Packages = append(out.Packages, p)
		for _, m := range bp.members {
			dst, err := r.packageMember(ctx, "bios", p, m)
			if err != nil {
				return nil, fmt.Errorf("BIOS loader: %w", err)
			}
			files[path.Base(m)] = dst
		}
	}
	out.IsolinuxBin, out.MBR, out.LdlinuxC32 = files["isolinux.bin"], files["isohdpfx.bin"], files["ldlinux.c32"]
	return out, nil
}

// IsBIOSLoaderCached says whether the loader files of the locked packages
// are all cached, so BIOSLoader needs no archive.
func (r *Resolver) IsBIOSLoaderCached(locked []Package) bool {
	pins := map[string]Package{}
	for _, p := range locked {
		pins[p.Name] = p
	}
	for _, bp := range biosPackages {
		p, ok := pins[bp.name]
		if !ok {
			return false
		}
		for _, m := range bp.members {
			if _, err := os.Stat(r.memberCachePath("bios", p, m)); err != nil {
				return false
			}
		}
	}
	return true
}

// packageMember returns the cached copy of member of package p, taking it
// out of the package's .deb (downloaded as needed) on first use.
func (r *Resolver) packageMember(ctx context.Context, kind string, p Package, member string) (string, error) {
	final := r.memberCachePath(kind, p, member)
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	deb, err := r.fetchPackage(ctx, p)
	if err != nil {
		return "", err
	}
	if err := extractMember(deb, member, final); err != nil {
		return "", fmt.Errorf("%s %s: %w", p.Name, p.Version, err)
	}
	return final, nil
}

// memberCachePath is where packageMember keeps member of p: named by the
// package's sha256, which fixes the file's content.
func (r *Resolver) memberCachePath(kind string, p Package, member string) string {
	return filepath.Join(r.CacheDir, kind, strings.ToLower(p.SHA256)+"-"+path.Base(member))
}
