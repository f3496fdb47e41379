package agent

import (
	"context"
	"strings"
)

// loadInstance reads the machine's own configuration and applies it: the
// hostname, and env kept for the app. Only names are logged: the values
// are often secrets.
func (a *agent) loadInstance(ctx context.Context) {
	if a.deps.Instance == nil {
		return
	}
	d, err := a.deps.Instance(ctx)
	if err != nil {
		a.log.Printf("instance: %v", err)
	}
	if d.InstanceID != "" {
		a.log.Printf("instance: id %s", d.InstanceID)
	}
	if d.Hostname != "" {
		if err := a.sys.SetHostname(d.Hostname); err != nil {
			a.log.Printf("instance: hostname %s: %v", d.Hostname, err)
		} else {
			a.log.Printf("instance: hostname %s", d.Hostname)
			a.writeEtc(d.Hostname)
		}
	}
	for _, src := range d.Sources {
		a.log.Printf("instance: env from %s: %s", src.Name, strings.Join(src.Names, " "))
	}
	a.instanceEnv = d.Env
}
