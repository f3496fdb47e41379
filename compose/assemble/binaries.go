package assemble

import "github.com/tinyboot/tinyboot/compose/initramfs"

// addBinaries puts the agent (/init) and the app in one archive, so that
// one compression window spans both: two Go binaries share the runtime
// and much of the standard library, and the second compresses against the
// first (the example's agent costs ~0.7 MB next to its app instead of
// ~1.4 MB alone). The agent goes first, so that the app's start (where
// the runtime is) is within the window when the agent is compressed...
// and the other way round: 8 MiB reach back from either.
func addBinaries(a *initramfs.Archive, agentBin, appPath, appBin string) error {
	if err := a.HostFile("/init", 0o755, agentBin); err != nil {
		return err
	}
	if err := a.WriteFirst("/init"); err != nil {
		return err
	}
	if appBin == "" {
		return nil // the app runs from the ISO
	}
	return a.HostFile(appPath, 0o755, appBin)
}
