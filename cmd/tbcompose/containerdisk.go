package main

import (
	"fmt"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/tinyboot/tinyboot/compose/containerdisk"
	"github.com/tinyboot/tinyboot/spec"
)

func init() { register(newContainerDiskCmd) }

// newContainerDiskCmd is `tbcompose containerdisk IMAGE|SPEC -o OUT.tar`.
func newContainerDiskCmd() *cobra.Command {
	var out, arch string
	cmd := &cobra.Command{
		Use:   "containerdisk IMAGE.iso|tinyboot.yaml",
		Short: "Pack an image as a KubeVirt containerDisk (OCI image layout archive)",
		Long: `containerdisk writes <name>.containerdisk.tar: an OCI image layout archive of
an image FROM scratch with one layer holding /disk/<name>.iso, owned by
107:107 (KubeVirt's qemu user), mode 0440. Given a spec it builds the image
first. The archive is reproducible: the same ISO gives the same bytes and
manifest digest. Load it with skopeo or crane, or push straight to a
registry with ` + "`tbcompose push`" + `.`,
		Example: `  tbcompose containerdisk hello.iso                  # hello.containerdisk.tar
  tbcompose containerdisk examples/tinyboot.yaml -o out/hello.tar`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			img, name, err := containerDiskOf(cmd, args[0], arch)
			if err != nil {
				return err
			}
			if out == "" {
				out = name + ".containerdisk.tar"
			}
			if err := containerdisk.WriteArchive(out, img, name); err != nil {
				return withCode(exitInvalid, err)
			}
			d, err := img.Digest()
			if err != nil {
				return withCode(exitInvalid, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", out, d)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "archive to write (default <name>.containerdisk.tar)")
	cmd.Flags().StringVar(&arch, "arch", "amd64", "architecture in the image config")
	return cmd
}

// containerDiskOf builds the containerDisk of an ISO, or of a spec's
// image after building it; name is the ISO's base name.
func containerDiskOf(cmd *cobra.Command, target, arch string) (v1.Image, string, error) {
	iso := target
	kind, err := detectTarget(target)
	if err != nil {
		return nil, "", withCode(exitUsage, err)
	}
	switch kind {
	case targetISO, targetRaw:
	case targetSpec:
		f, formats := firstSpecFormat(target, []string{spec.FormatISO, spec.FormatRaw})
		if f == "" {
			return nil, "", withCode(exitUsage, fmt.Errorf("%s: a containerDisk holds the spec's ISO or raw disk image, and its formats (%s) have neither; add iso to formats", target, strings.Join(formats, ", ")))
		}
		if iso, err = buildForRun(cmd, target, f); err != nil {
			return nil, "", err
		}
	default:
		return nil, "", withCode(exitUsage, fmt.Errorf("%s is %s format; a containerDisk holds an ISO or a raw disk image", target, kind))
	}
	name := strings.TrimSuffix(filepath.Base(iso), filepath.Ext(iso))
	img, err := containerdisk.Image(iso, name, arch)
	if err != nil {
		return nil, "", withCode(exitInvalid, err)
	}
	return img, name, nil
}
