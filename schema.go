// Package tinyboot holds what belongs to the project as a whole rather than
// to one tool: the JSON Schema of tinyboot.yaml, embedded so that the
// validator, `tbcompose schema` and editors all read the same bytes.
package tinyboot

import _ "embed"

// Schema is schema.json: the JSON Schema (draft 2020-12) of tinyboot.yaml.
// Package spec checks every document against it before its own checks.
//
//go:embed schema.json
var Schema []byte
