package kernel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// aptPackage is what apt knows about one package, without downloading it.
type aptPackage struct {
	Name, Version, Filename, SHA256 string
	Depends                         []string // first alternative of each entry, names only
}

// aptShow asks apt-cache for the candidate version of name (or exactly
// version when it is not empty).
func aptShow(ctx context.Context, name, version string) (*aptPackage, error) {
	if _, err := exec.LookPath("apt-cache"); err != nil {
		return nil, fmt.Errorf("kernel.package needs apt (apt-cache is not on PATH); on other systems use kernel.deb or kernel.vmlinuz instead")
	}
	cmd := exec.CommandContext(ctx, "apt-cache", "show", "--no-all-versions", name)
	if version != "" {
		cmd = exec.CommandContext(ctx, "apt-cache", "show", name+"="+version)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("apt-cache show %s: %w", name, ctx.Err())
		}
		msg := aptMessage(stderr.String())
		if version != "" {
			return nil, fmt.Errorf("apt does not know %s version %s (apt-cache says: %s); run `apt-get update`, or `tbcompose build --update` to move the lock file to the current version", name, version, msg)
		}
		return nil, fmt.Errorf("apt does not know package %s (apt-cache says: %s); run `apt-get update` (as root) so apt's package lists are present, and check the name", name, msg)
	}
	return parseAptShow(out)
}

// parseAptShow reads the first stanza of apt-cache show output.
func parseAptShow(out []byte) (*aptPackage, error) {
	p := &aptPackage{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, " ") {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "Package":
			p.Name = val
		case "Version":
			p.Version = val
		case "Filename":
			p.Filename = val
		case "SHA256":
			p.SHA256 = val
		case "Depends", "Pre-Depends":
			for _, dep := range strings.Split(val, ",") {
				first, _, _ := strings.Cut(dep, "|")
				if f := strings.Fields(first); len(f) > 0 {
					name, _, _ := strings.Cut(f[0], ":") // drop :any
					p.Depends = append(p.Depends, name)
				}
			}
		}
	}
	if p.Name == "" || p.Version == "" || p.SHA256 == "" {
		return nil, errors.New("apt-cache show: no Package, Version or SHA256 field")
	}
	return p, nil
}

// isKernelDep says whether a dependency of a kernel package holds part of
// the kernel: the image itself or, on Ubuntu, its modules.
func isKernelDep(name string) bool {
	return strings.HasPrefix(name, "linux-image-") || strings.HasPrefix(name, "linux-modules-")
}

// aptResolve follows a kernel package's dependencies from a meta package
// (linux-image-amd64 → linux-image-6.1.0-NN-amd64; on Ubuntu also
// linux-modules-*) and returns every package involved, in a stable order.
func aptResolve(ctx context.Context, name string) ([]*aptPackage, error) {
	var out []*aptPackage
	seen := map[string]bool{}
	queue := []string{name}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n] {
			continue
		}
		seen[n] = true
		p, err := aptShow(ctx, n, "")
		if err != nil {
			if n == name {
				return nil, err
			}
			return nil, fmt.Errorf("%s depends on %s: %w", name, n, err)
		}
		out = append(out, p)
		for _, d := range p.Depends {
			if isKernelDep(d) && !seen[d] {
				queue = append(queue, d)
			}
		}
	}
	return out, nil
}

// aptDownload fetches name=version into dir with apt-get download, which
// needs no root, and returns the file's path.
func aptDownload(ctx context.Context, dir, name, version string) error {
	cmd := exec.CommandContext(ctx, "apt-get", "download", name+"="+version)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get download %s=%s: %v: %s", name, version, err, lastLine(out.String()))
	}
	return nil
}

// aptMessage condenses apt's diagnostics to one line: its notes and
// errors (N: and E: lines, where the cause is), at most three.
func aptMessage(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "W:") && len(lines) < 3 {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return "no output"
	}
	return strings.Join(lines, " / ")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "W:") {
			return l
		}
	}
	return "no output"
}
