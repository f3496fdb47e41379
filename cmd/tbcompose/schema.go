package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tinyboot/tinyboot"
)

func init() { register(newSchemaCmd) }

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of tinyboot.yaml",
		Long: `schema prints the JSON Schema (draft 2020-12) that tinyboot.yaml is checked
against, the same one "tbcompose validate" uses. Point an editor at it for
completion and inline errors, e.g. with the YAML language server put this
first line in tinyboot.yaml:

  # yaml-language-server: $schema=./tinyboot.schema.json`,
		Example: `  tbcompose schema > tinyboot.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := cmd.OutOrStdout().Write(tinyboot.Schema); err != nil {
				return withCode(exitUsage, fmt.Errorf("write schema: %w", err))
			}
			return nil
		},
	}
}
