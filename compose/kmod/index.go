package kmod

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"
)

// Module is a loadable module of an Index.
type Module struct {
	// Name is the canonical module name.
	Name string
	// Path is the module file relative to /lib/modules/<version>/, e.g.
	// "kernel/drivers/net/virtio_net.ko".
	Path string
	Info *Info
}

// Index is the module tree of one kernel: the loadable modules and the
// modules built into the kernel image. It is built incrementally, so a
// caller can fill it while streaming a package; it is not safe for
// concurrent use.
type Index struct {
	modules map[string]*Module
	builtin map[string]bool
	// aliases lists every alias pattern, in Add order, for name lookups.
	aliases []alias
}

type alias struct {
	pattern string // normalised
	module  string
	builtin bool
}

// NewIndex returns an empty Index.
func NewIndex() *Index {
	return &Index{modules: map[string]*Module{}, builtin: map[string]bool{}}
}

// Add records the loadable module at relPath (relative to
// /lib/modules/<version>/). The module's name comes from its name= entry,
// or else from its file name. Adding a second module of the same name is
// an error: depmod would pick one by search order, which this package does
// not model.
func (x *Index) Add(relPath string, info *Info) error {
	if info == nil {
		return fmt.Errorf("kmod: add %s: no module info", relPath)
	}
	name := info.Name
	if name == "" {
		name = nameFromPath(relPath)
	}
	if name == "" {
		return fmt.Errorf("kmod: add %s: cannot tell the module name", relPath)
	}
	if old, ok := x.modules[name]; ok {
		return fmt.Errorf("kmod: module %s is both %s and %s", name, old.Path, relPath)
	}
	x.modules[name] = &Module{Name: name, Path: relPath, Info: info}
	for _, a := range info.Aliases {
		x.aliases = append(x.aliases, alias{pattern: normalizeAlias(a), module: name})
	}
	return nil
}

// MarkBuiltin records modules built into the kernel image, by name.
// Requests and dependencies naming them are satisfied without loading
// anything.
func (x *Index) MarkBuiltin(names []string) {
	for _, n := range names {
		x.builtin[Normalize(n)] = true
	}
}

// AddBuiltin records a built-in module with its metadata from
// modules.builtin.modinfo, so that its aliases (e.g. "crypto-crc32c")
// are known to be built in too.
func (x *Index) AddBuiltin(info *Info) {
	if info == nil || info.Name == "" {
		return
	}
	x.builtin[info.Name] = true
	for _, a := range info.Aliases {
		x.aliases = append(x.aliases, alias{pattern: normalizeAlias(a), module: info.Name, builtin: true})
	}
}

// Len returns the number of loadable modules.
func (x *Index) Len() int { return len(x.modules) }

// Module returns the loadable module of the given name.
func (x *Index) Module(name string) (*Module, bool) {
	m, ok := x.modules[Normalize(name)]
	return m, ok
}

// IsBuiltin reports whether the named module is built into the kernel.
func (x *Index) IsBuiltin(name string) bool { return x.builtin[Normalize(name)] }

// ParseBuiltin reads modules.builtin, one path per line such as
// "kernel/drivers/foo/bar.ko", and returns the canonical module names.
func ParseBuiltin(r io.Reader) ([]string, error) {
	var names []string
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		p := strings.TrimSpace(sc.Text())
		if p == "" {
			continue
		}
		if !strings.HasSuffix(p, ".ko") || path.Base(p) == ".ko" {
			return nil, fmt.Errorf("kmod: modules.builtin line %d: %q is not a module path", line, truncate(p, 60))
		}
		names = append(names, nameFromPath(p))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kmod: read modules.builtin: %w", err)
	}
	return names, nil
}

// ParseBuiltinModinfo reads modules.builtin.modinfo, the .modinfo entries
// of all built-in modules concatenated, each prefixed with "module.", and
// returns one Info per module in order of first appearance.
func ParseBuiltinModinfo(r io.Reader) ([]*Info, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("kmod: read modules.builtin.modinfo: %w", err)
	}
	byName := map[string]*Info{}
	var out []*Info
	for _, raw := range bytes.Split(data, []byte{0}) {
		if len(raw) == 0 {
			continue
		}
		entry := string(raw)
		mod, kv, ok := strings.Cut(entry, ".")
		key, value, ok2 := strings.Cut(kv, "=")
		if !ok || !ok2 || mod == "" || key == "" {
			return nil, fmt.Errorf("kmod: modules.builtin.modinfo entry %q is not module.key=value", truncate(entry, 60))
		}
		name := Normalize(mod)
		info := byName[name]
		if info == nil {
			info = &Info{Name: name}
			byName[name] = info
			out = append(out, info)
		}
		info.add(key, value)
	}
	return out, nil
}
