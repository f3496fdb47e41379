package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/internal/cache"
)

func init() { register(newCacheCmd) }

func newCacheCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "cache",
		Short: "Show or clear tinyboot's build cache",
		Long: `tbcompose keeps what it downloads and builds (packages and the archive's
verified indexes, unpacked kernels, module indexes, the agent, initramfs
segments, ESPs) in
$XDG_CACHE_HOME/tinyboot (else ~/.cache/tinyboot). After every build the
least recently used entries are removed until the cache fits
TINYBOOT_CACHE_LIMIT: bytes, or with a binary suffix such as 700M or 2G
(default 2G). What the build just used is always kept.`,
	}
	var asJSON bool
	info := &cobra.Command{
		Use:   "info",
		Short: "Print the cache's size by kind",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openCache()
			if err != nil {
				return err
			}
			usage, err := store.Info()
			if err != nil {
				return withCode(exitInvalid, err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, struct {
					Root  string        `json:"root"`
					Kinds []cache.Usage `json:"kinds"`
				}{store.Root(), usage})
			}
			limit, err := cache.LimitFromEnv()
			if err != nil {
				return withCode(exitUsage, err)
			}
			var total int64
			fmt.Fprintf(out, "%s (limit %s)\n", store.Root(), humanSize(limit))
			for _, u := range usage {
				total += u.Size
				fmt.Fprintf(out, "  %-10s %5d entries %10s\n", u.Kind, u.Entries, humanSize(u.Size))
			}
			fmt.Fprintf(out, "  %-10s %5s         %10s\n", "total", "", humanSize(total))
			return nil
		},
	}
	info.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	clean := &cobra.Command{
		Use:   "clean",
		Short: "Remove everything in the cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openCache()
			if err != nil {
				return err
			}
			freed, err := store.Clean()
			if errors.Is(err, cache.ErrBusy) {
				return withCode(exitInvalid, fmt.Errorf("cache clean: %w; try again when it has finished", err))
			}
			if err != nil {
				return withCode(exitInvalid, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s from %s\n", humanSize(freed), store.Root())
			return nil
		},
	}
	c.AddCommand(info, clean)
	return c
}

func openCache() (*cache.Cache, error) {
	dir, err := compose.CacheDir()
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return cache.Open(dir), nil
}
