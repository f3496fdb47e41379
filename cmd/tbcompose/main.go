// Command tbcompose composes tiny UEFI-bootable ISO images that run one Go
// program, from a declarative tinyboot.yaml.
//
// The CLI is thin: each subcommand lives in its own file, parses flags and
// calls into spec/ or compose/. Every invocation gets a fresh command tree
// (newRootCmd), so no flag value outlives one run. A subcommand is a
// newXxxCmd function in its own file plus one line there:
//
//	func init() { register(newXxxCmd) }
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes, documented in README.md.
const (
	exitOK      = 0
	exitInvalid = 1 // invalid spec, failed build, failed check
	exitUsage   = 2 // bad usage or an I/O error before any check ran
)

// exitError carries a process exit code out of a subcommand. Its message
// has already been printed when silent is true.
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so main exits with code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// silentExit exits with code without printing anything more.
func silentExit(code int) error { return &exitError{code: code, silent: true} }

// commands are the subcommands' constructors, added by register.
var commands []func() *cobra.Command

// register adds a subcommand's constructor to every root command made
// from now on; call it from an init function.
func register(newCmd func() *cobra.Command) { commands = append(commands, newCmd) }

// newRootCmd makes the whole command tree afresh.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tbcompose",
		Short: "Compose tiny UEFI-bootable ISO images that run one Go program",
		Long: `tbcompose turns a declarative tinyboot.yaml into a tiny UEFI-bootable ISO:
a kernel, the kernel modules the machine needs, the tinyboot agent as PID 1,
and your app. No root, no Docker, no loop mounts; the same inputs give the
same bytes.`,
		Example: `  tbcompose validate examples/tinyboot.yaml
  tbcompose build examples/tinyboot.yaml -o hello.iso`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	return root
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	return runWith(newRootCmd(), args, os.Stderr)
}

// runWith executes root with args and turns its error into an exit code,
// printing the message to stderr.
func runWith(root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if !ee.silent && ee.err != nil {
			fmt.Fprintln(stderr, "tbcompose:", ee.err)
		}
		return ee.code
	}
	// Errors cobra returns itself (unknown command, bad flag) are usage errors.
	fmt.Fprintln(stderr, "tbcompose:", err)
	return exitUsage
}

// printJSON writes v as indented JSON, the form of every --json output.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
