package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/tinyboot/tinyboot/agent/instance"
	"github.com/tinyboot/tinyboot/compose/cidata"
)

// addCidataFlags adds `disk create`'s NoCloud flags.
func addCidataFlags(f *pflag.FlagSet, o *diskCreateOptions) {
	f.StringVar(&o.cidata, "cidata", "", "make FILE a NoCloud drive (ISO9660 labelled cidata) whose user-data gives the app the KEY=VALUE lines of this env file")
	f.StringVar(&o.hostname, "hostname", "", "with --cidata: the machine's hostname (meta-data local-hostname)")
	f.StringVar(&o.instanceID, "instance-id", "", "with --cidata: meta-data instance-id (default: derived from the content)")
}

// createCidata writes a NoCloud drive at path.
func (o *diskCreateOptions) createCidata(path string) error {
	if err := mayCreate(path, o.force); err != nil {
		return err
	}
	env, err := readEnvFile(o.cidata)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--cidata: %w", err))
	}
	if err := cidata.Write(path, cidata.Options{Env: env, Hostname: o.hostname, InstanceID: o.instanceID}); err != nil {
		return withCode(exitInvalid, fmt.Errorf("disk create --cidata: %w", err))
	}
	return nil
}

// readEnvFile reads and checks a KEY=VALUE file; errors name lines, never
// values.
func readEnvFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if _, err := instance.ParseEnv(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}
