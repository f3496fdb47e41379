package main

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"
)

func init() { rootCmd.AddCommand(newPushCmd()) }

// newPushCmd is `tbcompose push IMAGE|SPEC REF`.
func newPushCmd() *cobra.Command {
	var insecure bool
	var arch string
	cmd := &cobra.Command{
		Use:   "push IMAGE.iso|tinyboot.yaml REF",
		Short: "Push an image to an OCI registry as a KubeVirt containerDisk",
		Long: `push packs the image as a containerDisk (see tbcompose containerdisk) and
pushes it to REF, such as registry.example.com/team/hello:v1. Given a spec
it builds the image first. Credentials come from the Docker config
(~/.docker/config.json, $DOCKER_CONFIG) and its credential helpers, as
docker login and crane leave them. --insecure allows plain HTTP (a local
registry). The manifest digest is printed: reference the image by it
(REF@sha256:...) so every node boots the same bytes.`,
		Example: `  tbcompose push hello.iso registry.example.com/team/hello:v1
  tbcompose push --insecure examples/tinyboot.yaml localhost:5000/hello:dev`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts []name.Option
			if insecure {
				opts = append(opts, name.Insecure)
			}
			ref, err := name.ParseReference(args[1], opts...)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("push: reference %q: %w", args[1], err))
			}
			img, _, err := containerDiskOf(cmd, args[0], arch)
			if err != nil {
				return err
			}
			if err := remote.Write(ref, img, remote.WithContext(cmd.Context()), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
				return withCode(exitInvalid, fmt.Errorf("push %s: %w", ref, err))
			}
			d, err := img.Digest()
			if err != nil {
				return withCode(exitInvalid, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s@%s\n", ref.Context(), d)
			return nil
		},
	}
	cmd.Flags().BoolVar(&insecure, "insecure", false, "allow a plain-HTTP registry")
	cmd.Flags().StringVar(&arch, "arch", "amd64", "architecture in the image config")
	return cmd
}
