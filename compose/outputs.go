package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tinyboot/tinyboot/compose/plan"
	"github.com/tinyboot/tinyboot/spec"
)

// OutputName is the default name of format's output for the machine
// name: <name>.iso, <name>.efi, <name>-kernel (a directory), <name>.img,
// <name>.tar.gz, <name>.containerdisk.tar.
func OutputName(name, format string) string {
	switch format {
	case spec.FormatUKI:
		return name + ".efi"
	case spec.FormatKernel:
		return name + "-kernel"
	case spec.FormatRaw:
		return name + ".img"
	case spec.FormatGCE:
		return name + ".tar.gz"
	case spec.FormatContainerDisk:
		return name + ".containerdisk.tar"
	default:
		return name + ".iso"
	}
}

// Formats returns the formats a build writes: override (--format) when
// set, else the spec's formats key, else [iso]; in the order given,
// each checked and named once.
func Formats(r *spec.Resolved, override []string) ([]string, error) {
	in, from := override, "--format"
	if len(in) == 0 {
		in, from = r.Spec().Formats, "formats"
	}
	if len(in) == 0 {
		return []string{spec.FormatISO}, nil
	}
	var out []string
	for _, f := range in {
		f = strings.ToLower(strings.TrimSpace(f))
		if !slices.Contains(spec.OutputFormats, f) {
			return nil, fmt.Errorf("%s: unknown output format %q; choose from %s", from, f, strings.Join(spec.OutputFormats, ", "))
		}
		if slices.Contains(out, f) {
			return nil, fmt.Errorf("%s: %s is listed twice", from, f)
		}
		out = append(out, f)
	}
	return out, nil
}

// OutputPaths says where each format goes. out is -o, else the spec's
// output, else empty. With one format, out names its file (for kernel,
// its directory); empty puts it beside the spec under its default name.
// With several, out names a directory that receives them all under their
// default names (beside the spec when empty).
//
// archSuffix, when set (a spec building several architectures), names
// the architecture in every output: the default names become
// <name>-<arch>.iso and so on, and a file named by out gets -<arch>
// before its extension (ArchOutput).
func OutputPaths(r *spec.Resolved, formats []string, out, archSuffix string) ([]plan.Output, error) {
	s := r.Spec()
	name := s.Name
	if archSuffix != "" {
		name += "-" + archSuffix
	}
	if out == "" {
		out = r.Output()
	}
	if out != "" {
		var err error
		if out, err = absPath("output", out); err != nil {
			return nil, err
		}
	}
	if len(formats) == 1 {
		if out == "" {
			out = filepath.Join(s.Dir, OutputName(name, formats[0]))
		} else if archSuffix != "" {
			out = ArchOutput(out, archSuffix, true)
		}
		if formats[0] != spec.FormatKernel {
			if fi, err := os.Stat(out); err == nil && fi.IsDir() {
				return nil, fmt.Errorf("output %s is a directory; name the %s file to write (or give several formats to fill a directory)", out, formats[0])
			}
		}
		return []plan.Output{{Format: formats[0], Path: out}}, nil
	}
	dir := out
	if dir == "" {
		var err error
		if dir, err = absPath("output", s.Dir); err != nil {
			return nil, err
		}
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("output %s is a file, but %d formats (%s) are requested: name a directory for them", dir, len(formats), strings.Join(formats, ", "))
	}
	var outs []plan.Output
	for _, f := range formats {
		outs = append(outs, plan.Output{Format: f, Path: filepath.Join(dir, OutputName(name, f))})
	}
	return outs, nil
}
