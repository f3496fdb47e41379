package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tinyboot/tinyboot/spec"
)

// Output formats of `tbcompose validate`.
var validateFormats = map[string]func(spec.Diagnostics, io.Writer) error{
	"human":  spec.Diagnostics.WriteHuman,
	"json":   spec.Diagnostics.WriteJSON,
	"github": spec.Diagnostics.WriteGitHub,
}

func init() { register(newValidateCmd) }

func newValidateCmd() *cobra.Command {
	var format string
	var strict bool
	cmd := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check a tinyboot.yaml and report every problem in it",
		Long: `validate checks a tinyboot.yaml (default ./tinyboot.yaml) without building
anything: YAML syntax, unknown or duplicate keys, types and allowed values
(against the JSON Schema that "tbcompose schema" prints), and what the schema
cannot say: referenced files exist, /iso destinations do not overlap, the
persistent label fits its filesystem.

Every problem is reported in one run, each with its line and column, like a
compiler's messages. Warnings do not fail the check unless --strict is given.

Output formats (--format):
  human   FILE:LINE:COL: PATH: message, with an indented "hint:" line
  json    a JSON array of {file, line, column, path, message, hint, severity}
  github  GitHub Actions workflow commands (::error file=...,line=...,col=...::)

Exit status: 0 valid, 1 invalid (or warnings with --strict), 2 usage or I/O
error such as a missing file.`,
		Example: `  tbcompose validate
  tbcompose validate examples/tinyboot.yaml
  tbcompose validate --strict --format github tinyboot.yaml   # in a CI step
  tbcompose validate --format json tinyboot.yaml | jq '.[].message'`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			write, ok := validateFormats[format]
			if !ok {
				return withCode(exitUsage, fmt.Errorf("--format %q: want human, json or github", format))
			}
			path := "tinyboot.yaml"
			if len(args) == 1 {
				path = args[0]
			}
			_, diags, err := spec.Load(path)
			if err != nil {
				return withCode(exitUsage, err)
			}
			out := cmd.OutOrStdout()
			if err := write(diags, out); err != nil {
				return withCode(exitUsage, fmt.Errorf("write diagnostics: %w", err))
			}
			failed := diags.HasErrors() || (strict && diags.HasWarnings())
			if format == "human" {
				summarize(out, path, diags, failed)
			}
			if failed {
				return silentExit(exitInvalid)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "human", "output format: human, json or github")
	cmd.Flags().BoolVar(&strict, "strict", false, "treat warnings as errors")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"human", "json", "github"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// summarize ends human output with one line a person can read at a glance.
func summarize(w io.Writer, path string, diags spec.Diagnostics, failed bool) {
	var errs, warns int
	for _, d := range diags {
		if d.Severity == spec.SeverityWarning {
			warns++
		} else {
			errs++
		}
	}
	switch {
	case !failed && warns == 0:
		fmt.Fprintf(w, "%s: valid\n", path)
	case !failed:
		fmt.Fprintf(w, "%s: valid, %s\n", path, plural(warns, "warning"))
	default:
		fmt.Fprintf(w, "%s: invalid: %s, %s\n", path, plural(errs, "error"), plural(warns, "warning"))
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
