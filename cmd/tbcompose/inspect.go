package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tinyboot/tinyboot/agent/coldplug"
	"github.com/tinyboot/tinyboot/compose"
)

func init() { register(newInspectCmd) }

func newInspectCmd() *cobra.Command {
	var asJSON bool
	var certPath string
	cmd := &cobra.Command{
		Use:   "inspect OUTPUT",
		Short: "Show what an image holds, without mounting it",
		Long: `inspect reads any output of tbcompose build (iso, uki, kernel directory, raw
disk, gce archive, containerdisk): the baked spec the agent applies, the
kernel version and command line, the modules in load order, the
initramfs's files and the ISO payload, with their sizes. Nothing is mounted
and nothing needs root.`,
		Example: `  tbcompose inspect hello.iso
  tbcompose inspect hello-kernel/
  tbcompose inspect --json hello.tar.gz | jq .spec`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			in, err := compose.Inspect(args[0])
			if err != nil {
				return withCode(exitInvalid, err)
			}
			out := cmd.OutOrStdout()
			if certPath != "" {
				// Verification failing is the answer asked for, so it is
				// reported after the inspection, as exit status 1.
				defer func() {
					if err == nil {
						w := out
						if asJSON {
							w = cmd.ErrOrStderr()
						}
						err = verifySignature(w, in, certPath)
					}
				}()
			}
			if asJSON {
				return printJSON(out, in)
			}
			printInspection(out, in)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().StringVar(&certPath, "cert", "", "verify the UKI's Secure Boot signature against this PEM certificate (exit 1 if it does not verify)")
	return cmd
}

func printInspection(w io.Writer, in *compose.Inspection) {
	fmt.Fprintf(w, "%s  %s  %s", in.Path, humanSize(in.Size), in.Format)
	if in.VolumeID != "" {
		fmt.Fprintf(w, ", volume %s", in.VolumeID)
	}
	if in.Arch != "" {
		fmt.Fprintf(w, ", arch %s", in.Arch)
	}
	fmt.Fprintln(w)
	if in.BootEntries > 0 || in.Partitions > 0 {
		firmware := "UEFI"
		if in.BIOS {
			firmware = "BIOS and UEFI"
		}
		fmt.Fprintf(w, "  boot      %s (El Torito entries %d, GPT partitions %d)\n", firmware, in.BootEntries, in.Partitions)
	}
	if in.ESPSize > 0 {
		fmt.Fprintf(w, "  ESP       %s holding the UKI (%s)\n", humanSize(in.ESPSize), humanSize(in.UKISize))
	}
	fmt.Fprintf(w, "  kernel    %s (%s)\n", in.Uname, humanSize(in.KernelSize))
	fmt.Fprintf(w, "  cmdline   %s\n", in.Cmdline)
	printSignature(w, in.Signature)
	fmt.Fprintf(w, "  initramfs %s compressed\n", humanSize(in.InitrdSize))
	if c := in.Spec; c != nil {
		fmt.Fprintf(w, "  app       %s %s\n", c.App.Path, strings.Join(c.App.Args, " "))
		var names []string
		for _, m := range c.Modules {
			names = append(names, m.Name)
		}
		fmt.Fprintf(w, "  modules   %d: %s\n", len(names), strings.Join(names, " "))
		switch {
		case in.ModuleFiles == 0:
		case in.SignedModules == in.ModuleFiles:
			fmt.Fprintf(w, "            signed by the kernel's vendor, as packaged\n")
		case in.SignedModules == 0:
			fmt.Fprintf(w, "            unsigned, debug and tracing sections emptied (slim)\n")
		default:
			fmt.Fprintf(w, "            %d of %d signed\n", in.SignedModules, in.ModuleFiles)
		}
		if t := coldplug.NewTable(c.Modules); len(c.Modules) > 0 {
			fmt.Fprintf(w, "  coldplug  %d alias patterns; at boot whatever the hardware: %s\n", t.Aliases(), orNone(t.AtBoot()))
		}
	}
	fmt.Fprintln(w, "  initramfs files:")
	for _, f := range in.Initramfs {
		if f.Dir || strings.HasPrefix(f.Path, "/lib/modules/") {
			continue // listed by name above
		}
		fmt.Fprintf(w, "    %-40s %10s\n", f.Path, humanSize(f.Size))
	}
	fmt.Fprintln(w, "  payload (/iso):")
	for _, f := range in.Payload {
		if f.Link != "" {
			fmt.Fprintf(w, "    %-40s -> %s\n", f.Path, f.Link)
			continue
		}
		fmt.Fprintf(w, "    %-40s %10s\n", f.Path, humanSize(f.Size))
	}
	if in.Spec != nil {
		b, _ := json.MarshalIndent(in.Spec, "  ", "  ")
		fmt.Fprintf(w, "  baked spec (%s):\n  %s\n", "/etc/tinyboot/spec.json", b)
	}
}

// orNone joins names, or says there are none.
func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, " ")
}
