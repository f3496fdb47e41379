package spec

import (
	"sort"
	"strings"
)

// secretWords mark an app.env name as a likely secret wherever they
// occur in it; secretParts only as a whole _-separated part, since "KEY"
// is also inside MONKEY and KEYBOARD.
var (
	secretWords = []string{"PASSWORD", "PASSWD", "SECRET", "TOKEN"}
	secretParts = []string{"KEY", "APIKEY", "PRIVKEY"}
)

// looksSecret reports whether an env name looks like it holds a secret.
func looksSecret(name string) bool {
	up := strings.ToUpper(name)
	for _, w := range secretWords {
		if strings.Contains(up, w) {
			return true
		}
	}
	for _, part := range strings.Split(up, "_") {
		for _, p := range secretParts {
			if part == p {
				return true
			}
		}
	}
	return false
}

// secretEnv warns about app.env values that look like secrets: they are
// baked into the image in clear text, and `tbcompose inspect` shows them.
func (c *checker) secretEnv() {
	names := make([]string, 0, len(c.s.App.Env))
	for k := range c.s.App.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if looksSecret(k) {
			c.warnf("/app/env/"+k,
				"pass it per machine instead: `tbcompose run --env-file FILE` (fw_cfg), or a NoCloud drive from `tbcompose disk create --cidata FILE`; both override app.env and are never baked in",
				"%s looks like a secret; app.env is baked into the image in clear text", k)
		}
	}
}
