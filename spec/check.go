package spec

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// checker runs the semantic checks: the ones schema.json cannot express
// because they look at the build host or relate several values.
type checker struct {
	t *tree
	s *Spec
}

func (c *checker) report(sev, ptr, hint, format string, args ...any) {
	l := c.t.locate(ptr)
	c.t.diags = append(c.t.diags, Diagnostic{
		File: c.t.file, Line: l.val.line, Column: l.val.col, Path: l.path,
		Message: fmt.Sprintf(format, args...), Hint: hint, Severity: sev,
	})
}

func (c *checker) errorf(ptr, hint, format string, args ...any) {
	c.report(SeverityError, ptr, hint, format, args...)
}

func (c *checker) warnf(ptr, hint, format string, args ...any) {
	c.report(SeverityWarning, ptr, hint, format, args...)
}

// has reports whether the document sets the value at ptr.
func (c *checker) has(ptr string) bool {
	_, ok := lookup(c.t.root, strings.Split(ptr, "/")[1:])
	return ok
}

func (c *checker) check() {
	c.kernel()
	c.app()
	c.files()
	c.persistent()
	c.network()
	c.logging()
	c.watchdog()
	c.misc()
	c.runtime()
	c.secureBoot()
	c.archive()
}

// kind of file system object a path must name.
type want int

const (
	wantFile want = iota
	wantDir
	wantAny
)

// exists checks that the spec path p (at ptr) names a file or directory
// on the build host.
func (c *checker) exists(ptr, p string, w want) (fs.FileInfo, bool) {
	if p == "" {
		return nil, false
	}
	full := c.s.Resolve(p)
	fi, err := os.Stat(full)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		hint := ""
		if !strings.HasPrefix(p, "/") {
			hint = "relative paths are relative to the spec's directory, " + c.s.Dir
		}
		c.errorf(ptr, hint, "%s does not exist", p)
		return nil, false
	case err != nil:
		c.errorf(ptr, "", "%s: %v", p, err)
		return nil, false
	case w == wantFile && fi.IsDir():
		c.errorf(ptr, "", "%s is a directory, want a file", p)
		return nil, false
	case w == wantDir && !fi.IsDir():
		c.errorf(ptr, "", "%s is not a directory", p)
		return nil, false
	}
	return fi, true
}

func (c *checker) kernel() {
	k := c.s.Kernel
	for i, d := range k.Deb {
		ptr := "/kernel/deb/" + strconv.Itoa(i)
		if d.Path != "" {
			if _, ok := c.exists(ptr, d.Path, wantFile); ok && !strings.HasSuffix(d.Path, ".deb") {
				c.warnf(ptr, "", "%s does not end in .deb", d.Path)
			}
		}
	}
	c.exists("/kernel/vmlinuz", k.Vmlinuz, wantFile)
	c.exists("/kernel/modules_dir", k.ModulesDir, wantDir)
	c.exists("/kernel/stub", k.Stub, wantFile)
	if k.Isolinux != "" && k.Isolinux != IsolinuxNone {
		if _, ok := c.exists("/kernel/isolinux", k.Isolinux, wantDir); ok {
			for _, f := range IsolinuxFiles {
				if fi, err := os.Stat(filepath.Join(c.s.Resolve(k.Isolinux), f)); err != nil || !fi.Mode().IsRegular() {
					c.errorf("/kernel/isolinux", "copy it there from Debian's isolinux or syslinux-common package, or set kernel.isolinux: none for a UEFI-only image",
						"%s has no %s", k.Isolinux, f)
				}
			}
		}
	}
}

// IsolinuxISODir is where the BIOS loader lives on the ISO.
const IsolinuxISODir = "/isolinux"

// IsolinuxFiles are the files a kernel.isolinux directory must hold.
var IsolinuxFiles = []string{"isolinux.bin", "ldlinux.c32", "isohdpfx.bin"}

func (c *checker) app() {
	a := c.s.App
	if a.Binary != "" {
		if _, ok := c.exists("/app/binary", a.Binary, wantFile); ok {
			c.checkELF("/app/binary", a.Binary)
		}
	}
	// Only a path-like value is a directory here; anything else is an
	// import path for the Go tool to resolve at build time.
	if g := a.Go; g == "." || g == ".." || strings.HasPrefix(g, "./") || strings.HasPrefix(g, "../") || strings.HasPrefix(g, "/") {
		c.exists("/app/go", g, wantDir)
	}
	if a.Restart == RestartAlways && a.OnExit != "" {
		c.warnf("/app/on_exit", "remove on_exit, or choose restart: on-failure",
			"on_exit has no effect with restart: always (the app never ends for good)")
	}
	if a.RunFrom == RunFromISO {
		for i, f := range c.s.Formats {
			if !FormatHasISO(strings.ToLower(f)) {
				c.errorf("/formats/"+strconv.Itoa(i), "drop it from formats, or keep the app in the initramfs (app.run_from: initramfs)",
					"the %s format has no ISO to run the app from (app.run_from: iso)", f)
			}
		}
		if c.s.SecureBoot != nil {
			c.errorf("/app/run_from", "keep the app in the initramfs (app.run_from: initramfs) in a signed image",
				"iso puts the app outside the signed UKI, where Secure Boot does not verify it")
		}
	}
	if c.has("/app/stop_timeout") && a.StopTimeout == 0 {
		c.warnf("/app/stop_timeout", "use a short duration such as 1s to stop quickly",
			"0 means the default, %s", DefaultStopTimeout)
	}
	c.secretEnv()
}

// checkELF checks that a prebuilt app can run on the image: a static
// linux executable for the spec's architecture, since the image has no dynamic loader or libc.
func (c *checker) checkELF(ptr, p string) {
	f, err := elf.Open(c.s.Resolve(p))
	if err != nil {
		c.errorf(ptr, "build it with GOOS=linux GOARCH=amd64 CGO_ENABLED=0", "%s is not an ELF executable", p)
		return
	}
	defer f.Close()
	if !c.checkBinaryMachine(ptr, p, f.Machine, f.Class) {
		return
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		c.errorf(ptr, "", "%s is not an executable (%v)", p, f.Type)
		return
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			c.errorf(ptr, "build it statically, e.g. with CGO_ENABLED=0", "%s is dynamically linked; the image has no dynamic loader", p)
			return
		}
	}
}

func (c *checker) files() {
	type entry struct {
		dst string
		ptr string
	}
	var seen []entry
	for i, f := range c.s.Files {
		ptr := "/files/" + strconv.Itoa(i)
		c.exists(ptr+"/src", f.Src, wantAny)
		if f.Dst == "" {
			continue
		}
		dptr := ptr + "/dst"
		if path.Clean(f.Dst) != f.Dst || slices.Contains(strings.Split(f.Dst, "/"), "..") {
			c.errorf(dptr, fmt.Sprintf("write it as %q", path.Clean(f.Dst)), "dst %q is not a clean absolute path", f.Dst)
			continue
		}
		if c.s.App.RunFrom == RunFromISO && (f.Dst == AppISODir || inside(f.Dst, AppISODir)) {
			c.errorf(dptr, "choose another dst",
				"dst %q: %s on the ISO holds the app (app.run_from: iso)", f.Dst, AppISODir)
			continue
		}
		if c.s.Kernel.Isolinux != IsolinuxNone && (f.Dst == IsolinuxISODir || inside(f.Dst, IsolinuxISODir)) {
			c.errorf(dptr, "choose another dst, or set kernel.isolinux: none for an image without BIOS boot",
				"dst %q: %s on the ISO is the BIOS loader's", f.Dst, IsolinuxISODir)
			continue
		}
		clash := false
		for _, prev := range seen {
			switch {
			case prev.dst == f.Dst:
				c.errorf(dptr, "", "dst %q is already used by %s", f.Dst, c.t.locate(prev.ptr).path)
			case inside(f.Dst, prev.dst):
				c.errorf(dptr, "", "dst %q is inside %q (%s)", f.Dst, prev.dst, c.t.locate(prev.ptr).path)
			case inside(prev.dst, f.Dst):
				c.errorf(dptr, "", "dst %q contains %q (%s)", f.Dst, prev.dst, c.t.locate(prev.ptr).path)
			default:
				continue
			}
			clash = true
		}
		// A clashing entry is reported once, against the entries
		// before it, not again by every later entry.
		if !clash {
			seen = append(seen, entry{f.Dst, dptr})
		}
	}
}

// inside reports whether the clean absolute path p is strictly below dir.
func inside(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return strings.HasPrefix(p, dir+"/")
}

func (c *checker) persistent() {
	p := c.s.Persistent
	if p == nil {
		return
	}
	fs := p.FS
	if fs == "" {
		fs = DefaultPersistentFS
	}
	if limit := MaxLabel(fs); len(p.Label) > limit {
		c.errorf("/persistent/label", "", "label is %d bytes; %s labels hold at most %d", len(p.Label), fs, limit)
	}
	if strings.ContainsAny(p.Label, "/\x00") {
		c.errorf("/persistent/label", "", "label %q contains '/' or NUL", p.Label)
	}
	if p.Required && p.Label == "" {
		c.warnf("/persistent/required", "set persistent.label to the label of your volume",
			"required volume is found by the default label %q, which any tinyboot disk may carry", DefaultLabel)
	}
}

func (c *checker) misc() {
	switch ca := c.s.CACerts; ca {
	case "", "system", "none":
	default:
		c.exists("/ca_certs", ca, wantFile)
	}
	for _, ptr := range durationPtrs[1:] {
		if c.has(ptr) {
			var d Duration
			switch ptr {
			case "/persistent/wait":
				if c.s.Persistent != nil {
					d = c.s.Persistent.Wait
				}
			case "/network/wait":
				d = c.s.Network.Wait
			case "/time/wait":
				d = c.s.Time.Wait
			case "/watchdog/timeout":
				if c.s.Watchdog != nil {
					d = c.s.Watchdog.Timeout
				}
			}
			if d == 0 {
				c.warnf(ptr, "use a short duration such as 1ms to barely wait", "0 means the default")
			}
		}
	}
	if dhcp := c.s.Network.DHCP; dhcp != nil && !*dhcp && len(c.s.Network.Interfaces) == 0 && len(c.s.Time.NTP) > 0 {
		c.warnf("/time/ntp", "", "NTP servers are set but network.dhcp is false, so the machine has no network to reach them")
	}
}
