// Package kmod reads Linux kernel module metadata and orders modules for
// loading.
//
// Debian's kernel package ships no modules.dep (depmod runs at install
// time), so everything comes from each module's .modinfo ELF section, the
// NUL-separated "key=value" strings modpost and MODULE_*() macros emit:
// name, depends, softdep, alias, vermagic, license and so on.
package kmod

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/tinyboot/tinyboot/internal/decompress"
)

// maxModuleSize bounds a decompressed module; the largest in-tree modules
// are a few tens of MiB, so this only stops hostile input.
const maxModuleSize = 512 << 20

// Info is a module's metadata from its .modinfo section.
type Info struct {
	// Name is the canonical module name (with '_', see Normalize); empty
	// when the section has no name= entry (very old modules).
	Name string
	// Depends are the canonical names of modules whose symbols this one
	// uses; they must be loaded first.
	Depends []string
	// SoftdepPre and SoftdepPost are modules (or aliases) modprobe loads
	// before and after this one, if they exist.
	SoftdepPre  []string
	SoftdepPost []string
	// Aliases are fnmatch patterns such as "pci:v00001AF4d*" or literal
	// names such as "fs-btrfs".
	Aliases     []string
	Firmware    []string
	Vermagic    string
	License     string
	Description string
	Version     string
	SrcVersion  string
	Intree      bool
	// Fields are all entries in section order, including the above and
	// ones with no field of their own (author, parm, parmtype, ...).
	Fields []Field
}

// Field is one key=value entry of a .modinfo section.
type Field struct {
	Key   string
	Value string
}

// ParseModinfo reads the .modinfo section of an uncompressed module.
func ParseModinfo(ko []byte) (*Info, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, fmt.Errorf("kmod: not an ELF module: %w", err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, errors.New("kmod: no .modinfo section")
	}
	if sec.Type == elf.SHT_NOBITS || sec.Size > uint64(len(ko)) {
		return nil, fmt.Errorf("kmod: bad .modinfo section (type %v, %d bytes)", sec.Type, sec.Size)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("kmod: read .modinfo: %w", noEOF(err))
	}
	return ParseModinfoSection(data)
}

// ParseModinfoSection parses the content of a .modinfo section.
func ParseModinfoSection(data []byte) (*Info, error) {
	info := &Info{}
	// Entries are NUL-terminated and may be separated by extra NULs
	// where the compiler aligned them.
	for _, raw := range bytes.Split(data, []byte{0}) {
		if len(raw) == 0 {
			continue
		}
		key, value, ok := strings.Cut(string(raw), "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("kmod: .modinfo entry %q is not key=value", truncate(string(raw), 60))
		}
		info.add(key, value)
	}
	return info, nil
}

// add records one entry.
func (info *Info) add(key, value string) {
	info.Fields = append(info.Fields, Field{key, value})
	switch key {
	case "name":
		info.Name = Normalize(value)
	case "depends":
		for _, d := range strings.Split(value, ",") {
			if d = strings.TrimSpace(d); d != "" {
				info.Depends = append(info.Depends, Normalize(d))
			}
		}
	case "softdep":
		info.addSoftdep(value)
	case "alias":
		info.Aliases = append(info.Aliases, value)
	case "firmware":
		info.Firmware = append(info.Firmware, value)
	case "vermagic":
		info.Vermagic = strings.TrimSpace(value)
	case "license":
		info.License = value
	case "description":
		info.Description = value
	case "version":
		info.Version = value
	case "srcversion":
		info.SrcVersion = value
	case "intree":
		info.Intree = value == "Y"
	}
}

// addSoftdep parses "pre: a b post: c", the syntax of modprobe.d's
// softdep command, which MODULE_SOFTDEP() copies verbatim.
func (info *Info) addSoftdep(value string) {
	var dst *[]string
	for _, tok := range strings.Fields(value) {
		switch tok {
		case "pre:":
			dst = &info.SoftdepPre
		case "post:":
			dst = &info.SoftdepPost
		default:
			if dst != nil {
				*dst = append(*dst, tok)
			}
		}
	}
}

// Decompress returns the raw ELF of a module file, choosing the
// decompressor by name: .ko, .ko.xz, .ko.zst or .ko.gz.
func Decompress(name string, r io.Reader) ([]byte, error) {
	ext := path.Ext(name)
	if ext == ".ko" {
		ext = ""
	} else if path.Ext(strings.TrimSuffix(name, ext)) != ".ko" {
		ext = "?"
	}
	f, ok := decompress.ByExt(ext)
	if !ok || (f != decompress.None && f != decompress.XZ && f != decompress.Zstd && f != decompress.Gzip) {
		return nil, fmt.Errorf("kmod: %s is not a kernel module (.ko, .ko.xz, .ko.zst or .ko.gz)", name)
	}
	src, err := decompress.NewReader(f, r)
	if err != nil {
		return nil, fmt.Errorf("kmod: decompress %s: %w", name, noEOF(err))
	}
	defer src.Close()
	b, err := io.ReadAll(io.LimitReader(src, maxModuleSize+1))
	if err != nil {
		return nil, fmt.Errorf("kmod: read %s: %w", name, noEOF(err))
	}
	if len(b) > maxModuleSize {
		return nil, fmt.Errorf("kmod: %s unpacks to more than %d bytes", name, maxModuleSize)
	}
	return b, nil
}

// noEOF turns a bare io.EOF into io.ErrUnexpectedEOF: wherever it is
// wrapped, more data was expected.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
