// Package instance reads what an engine hands one machine of an image:
// a cloud-init NoCloud drive (a small ISO9660 or vfat volume labelled cidata with
// meta-data and user-data) and the QEMU fw_cfg entry opt/tinyboot/env.
// Values are secrets as far as this package knows: they are returned,
// never logged, never written anywhere; errors name lines and keys only.
package instance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// EnvHeader starts a user-data file that holds KEY=VALUE lines for the
// app (cloud-init's own formats start with "#cloud-config" and the like).
const EnvHeader = "#tinyboot-env"

// FwCfgName is the fw_cfg entry holding KEY=VALUE lines.
const FwCfgName = "opt/tinyboot/env"

// Label is the NoCloud volume label (matched case-insensitively).
const Label = "cidata"

// Data is what one machine was given.
type Data struct {
	// InstanceID and Hostname come from NoCloud meta-data.
	InstanceID string
	Hostname   string
	// Env holds every variable, fw_cfg's over NoCloud's.
	Env map[string]string
	// Sources names where variables came from, for the log: source ->
	// sorted variable names.
	Sources []Source
}

// Source is one origin of variables.
type Source struct {
	Name  string // "nocloud /dev/sr1", "fw_cfg opt/tinyboot/env"
	Names []string
}

// Add merges env from source over what d holds.
func (d *Data) Add(source string, env map[string]string) {
	if len(env) == 0 {
		return
	}
	if d.Env == nil {
		d.Env = map[string]string{}
	}
	names := make([]string, 0, len(env))
	for k, v := range env {
		d.Env[k] = v
		names = append(names, k)
	}
	sort.Strings(names)
	d.Sources = append(d.Sources, Source{Name: source, Names: names})
}

var keyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseEnv reads KEY=VALUE lines; blank lines and lines starting with #
// are skipped (so the EnvHeader line is too). A value is everything after
// the first '=', kept as is. Errors name the line, never its content.
func ParseEnv(data []byte) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want KEY=VALUE", n)
		}
		k = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(k), "export "))
		if !keyRE.MatchString(k) {
			return nil, fmt.Errorf("line %d: the name before '=' must be letters, digits and _, not starting with a digit", n)
		}
		env[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line too long: %w", err)
	}
	return env, nil
}

// IsEnvUserData reports whether NoCloud user-data is meant for tinyboot.
func IsEnvUserData(data []byte) bool {
	first, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSpace(first) == EnvHeader
}

// MetaData is the part of NoCloud meta-data tinyboot honours.
type MetaData struct {
	InstanceID    string `json:"instance-id"`
	LocalHostname string `json:"local-hostname"`
}

// ParseMetaData reads NoCloud meta-data: JSON, or the YAML mapping of
// plain "key: value" lines that engines write.
func ParseMetaData(data []byte) (MetaData, error) {
	var md MetaData
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		if err := json.Unmarshal(t, &md); err != nil {
			return MetaData{}, fmt.Errorf("meta-data: %w", err)
		}
		return md, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue // nested values and comments: nothing tinyboot reads
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = unquote(strings.TrimSpace(v))
		switch strings.TrimSpace(k) {
		case "instance-id":
			md.InstanceID = v
		case "local-hostname":
			md.LocalHostname = v
		}
	}
	return md, sc.Err()
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}
