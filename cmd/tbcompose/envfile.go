package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/tinyboot/tinyboot/agent/instance"
	"github.com/tinyboot/tinyboot/internal/qemu"
)

// addEnvFile passes --env-file to the machine as the fw_cfg entry the
// agent reads before the app starts. QEMU reads the file itself, so the
// values never pass through this process's arguments or output.
func (o *runOptions) addEnvFile(cfg *qemu.Config) error {
	if o.envFile == "" {
		return nil
	}
	if _, err := readEnvFile(o.envFile); err != nil {
		return fmt.Errorf("--env-file: %w", err)
	}
	abs, err := filepath.Abs(o.envFile)
	if err != nil {
		return fmt.Errorf("--env-file: %w", err)
	}
	// QEMU's option syntax doubles a comma that is part of a value.
	cfg.ExtraArgs = append(cfg.ExtraArgs, "-fw_cfg", "name="+instance.FwCfgName+",file="+strings.ReplaceAll(abs, ",", ",,"))
	return nil
}
