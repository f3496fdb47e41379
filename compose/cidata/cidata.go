// Package cidata writes a cloud-init NoCloud drive for tinyboot: a small
// ISO9660 volume labelled cidata holding meta-data (instance-id,
// local-hostname) and user-data that starts with #tinyboot-env and holds
// KEY=VALUE lines for the app. The agent reads it at boot, before the
// app starts; KubeVirt (cloudInitNoCloud) and Proxmox (cicustom) attach
// drives of the same shape.
package cidata

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"

	"github.com/tinyboot/tinyboot/agent/instance"
)

// Options describe one drive.
type Options struct {
	// Env is the content of an env file: KEY=VALUE lines.
	Env []byte
	// InstanceID is meta-data's instance-id; empty means one derived
	// from the other options, so the same input gives the same id.
	InstanceID string
	// Hostname is meta-data's local-hostname; empty leaves the baked one.
	Hostname string
}

// Write makes the drive at out, atomically: it appears complete or not
// at all. The env is checked first, with errors that name lines only.
func Write(out string, o Options) error {
	if _, err := instance.ParseEnv(o.Env); err != nil {
		return fmt.Errorf("env: %w", err)
	}
	user := o.Env
	if !instance.IsEnvUserData(user) {
		user = append([]byte(instance.EnvHeader+"\n"), user...)
	}
	id := o.InstanceID
	if id == "" {
		sum := sha256.Sum256(bytes.Join([][]byte{user, []byte(o.Hostname)}, []byte{0}))
		id = "tinyboot-" + hex.EncodeToString(sum[:8])
	}
	meta := fmt.Sprintf("instance-id: %s\n", id)
	if o.Hostname != "" {
		meta += fmt.Sprintf("local-hostname: %s\n", o.Hostname)
	}

	dir := filepath.Dir(out)
	ws, err := os.MkdirTemp(dir, ".cidata-ws-*")
	if err != nil {
		return fmt.Errorf("workspace: %w", err)
	}
	defer os.RemoveAll(ws)
	root := filepath.Join(ws, "root") // go-diskfs removes its workspace
	if err := os.Mkdir(root, 0o700); err != nil {
		return fmt.Errorf("workspace: %w", err)
	}
	for name, data := range map[string][]byte{"meta-data": []byte(meta), "user-data": user} {
		if err := os.WriteFile(filepath.Join(root, name), data, 0o600); err != nil {
			return fmt.Errorf("workspace: %w", err)
		}
	}
	tmp := filepath.Join(ws, "cidata.iso")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	fsys, err := iso9660.Create(file.New(f, false), 0, 0, 2048, root)
	if err == nil {
		err = fsys.Finalize(iso9660.FinalizeOptions{RockRidge: true, VolumeIdentifier: instance.Label})
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write ISO9660: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	return nil
}
