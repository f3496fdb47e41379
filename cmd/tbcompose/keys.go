package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinyboot/tinyboot/compose/ovmfvars"
	"github.com/tinyboot/tinyboot/compose/secureboot"
	"github.com/tinyboot/tinyboot/internal/fsutil"
	"github.com/tinyboot/tinyboot/internal/qemu"
)

func init() { rootCmd.AddCommand(newKeysCmd()) }

// newKeysCmd is `tbcompose keys`: Secure Boot key sets.
func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Make Secure Boot keys and enroll them in a VM's firmware",
		Long: `keys manages UEFI Secure Boot key sets: a platform key (PK), a key exchange
key (KEK) and a signature database key (db). Images are signed with the db
key (secure_boot: {key: DIR/db.key, cert: DIR/db.crt} in tinyboot.yaml);
firmware with the set enrolled boots only images signed by it.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newKeysCreateCmd(), newKeysEnrollCmd())
	return cmd
}

func newKeysCreateCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "create DIR",
		Short: "Make a new PK, KEK and db key set in DIR",
		Long: `create writes, for each of PK, KEK and db: NAME.key (RSA 2048 private key,
mode 0600), NAME.crt (self-signed certificate), NAME.esl (EFI signature
list) and NAME.auth (the signed time-based authenticated variable update
that enrolls it on firmware in setup mode: PK and KEK signed by PK, db by
KEK), and GUID, the signature owner. It never overwrites existing keys.`,
		Example: `  tbcompose keys create keys/
  tbcompose keys enroll keys/ --vars vars.fd`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := secureboot.Create(args[0], name, time.Now()); err != nil {
				return withCode(exitInvalid, fmt.Errorf("keys create: %w", err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote PK, KEK and db keys to %s; sign images with secure_boot: {key: %s, cert: %s}\n",
				args[0], filepath.Join(args[0], "db.key"), filepath.Join(args[0], "db.crt"))
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "tinyboot", "common name prefix of the certificates")
	return cmd
}

func newKeysEnrollCmd() *cobra.Command {
	var out, template string
	cmd := &cobra.Command{
		Use:   "enroll DIR --vars OUT.fd",
		Short: "Write an OVMF variable store with DIR's keys enrolled",
		Long: `enroll copies an OVMF variable store template (default: the system's blank
OVMF_VARS_4M.fd) to OUT.fd with PK, KEK and db from DIR enrolled and Secure
Boot enabled. Boot it with OVMF's Secure Boot build (OVMF_CODE_4M.secboot.fd)
on q35 with smm=on and secure pflash, as tbcompose run --secure-boot does.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return withCode(exitUsage, fmt.Errorf("keys enroll: --vars OUT.fd is required"))
			}
			if err := enrollVars(args[0], template, out); err != nil {
				return withCode(exitInvalid, fmt.Errorf("keys enroll: %w", err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s with %s's PK, KEK and db enrolled\n", out, args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "vars", "", "variable store file to write")
	cmd.Flags().StringVar(&template, "template", "", "variable store to start from (default: OVMF_VARS_4M.fd)")
	return cmd
}

// enrollVars writes to out the template (or the system's blank store)
// with the key set in dir enrolled.
func enrollVars(dir, template, out string) error {
	if template == "" {
		fw, err := qemu.FindSecureBootFirmware()
		if err != nil {
			return err
		}
		template = fw.Vars
	}
	b, err := os.ReadFile(template)
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	store, err := ovmfvars.Parse(b)
	if err != nil {
		return fmt.Errorf("template %s: %w", template, err)
	}
	if err := store.Enroll(dir); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(out, store.Bytes())
}

// secureBootConfig points cfg at OVMF's Secure Boot build with a fresh
// variable store that has the key set in dir enrolled; cleanup removes
// the store.
func secureBootConfig(cfg qemu.Config, dir string) (qemu.Config, func(), error) {
	fw, err := qemu.FindSecureBootFirmware()
	if err != nil {
		return cfg, nil, err
	}
	tmp, err := os.MkdirTemp("", "tbcompose-vars-")
	if err != nil {
		return cfg, nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	vars := filepath.Join(tmp, "OVMF_VARS.fd")
	if err := enrollVars(dir, fw.Vars, vars); err != nil {
		cleanup()
		return cfg, nil, fmt.Errorf("--secure-boot %s: %w", dir, err)
	}
	cfg.Firmware = qemu.Firmware{Code: fw.Code, Vars: vars}
	cfg.ExtraArgs = append(cfg.ExtraArgs, qemu.SecureBootArgs...)
	return cfg, cleanup, nil
}
