package spec

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/tinyboot/tinyboot"
)

// schemaURL is schema.json's $id; the compiler needs a URL to name it by.
const schemaURL = "https://github.com/tinyboot/tinyboot/schema.json"

type compiledSchema struct {
	schema *jsonschema.Schema
	// raw is schema.json decoded, for the property names behind
	// "did you mean" suggestions.
	raw map[string]any
}

var loadSchema = sync.OnceValues(func() (*compiledSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(tinyboot.Schema))
	if err != nil {
		return nil, fmt.Errorf("decode schema.json: %w", err)
	}
	raw, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("schema.json is not an object")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("add schema.json: %w", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("compile schema.json: %w", err)
	}
	return &compiledSchema{schema: sch, raw: raw}, nil
})

var printer = message.NewPrinter(language.English)

// choiceMessages explain a failed oneOf by the schema location holding it;
// the validator's own account ("oneOf failed, none matched" plus every
// branch's complaint) is accurate but not what a user needs to read.
var choiceMessages = map[string][2]string{
	"/$defs/kernel":    {"set exactly one of package, deb, vmlinuz", "package names a Debian kernel package, deb lists .deb files, vmlinuz (with modules_dir) a kernel image"},
	"/$defs/app":       {"set exactly one of go, binary", "go names a Go package to build, binary a prebuilt static executable"},
	"/$defs/interface": {"set exactly one of name, mac", "name matches a NIC by its kernel name (eth0), mac by its MAC address"},
	"/$defs/debSource": {"must be a path or a {url, sha256} mapping", "for example ./linux-image.deb or {url: https://example.org/k.deb, sha256: <64 hex digits>}"},
}

// patternMessages explain a pattern mismatch by the schema location of
// the pattern, as message (given the value) and hint.
var patternMessages = map[string][2]string{
	"/$defs/duration":                            {"invalid duration %q", `use Go syntax such as "500ms", "10s" or "1m30s"`},
	"/properties/name":                           {"invalid name %q", "use lowercase letters, digits and '-', starting and ending with a letter or digit"},
	"/properties/hostname":                       {"invalid hostname %q", "use dot-separated labels of letters, digits and '-', each at most 63 bytes"},
	"/$defs/moduleName":                          {"invalid module name %q", "use a module name such as e1000e or an alias such as fs-btrfs"},
	"/$defs/kernel/properties/package":           {"invalid package name %q", "use a Debian package name such as linux-image-amd64"},
	"/$defs/kernel/properties/cmdline/items":     {"kernel command-line word %q contains white space", "write each word as its own list item"},
	"/$defs/debSource/oneOf/1/properties/url":    {"invalid URL %q", "use an http:// or https:// URL"},
	"/$defs/debSource/oneOf/1/properties/sha256": {"invalid sha256 %q", "use the file's SHA-256 as 64 hex digits (sha256sum prints it)"},
	"/$defs/file/properties/dst":                 {"dst %q is not absolute", "dst is a path under /iso and starts with /, such as /www"},
	"/$defs/app/properties/env/propertyNames":    {"invalid environment variable name %q", "use letters, digits and '_', not starting with a digit"},
	"/$defs/time/properties/ntp/items":           {"invalid NTP server %q", "use a host name or an IP address"},
	"/$defs/interface/properties/name":           {"invalid interface name %q", "use the kernel's name, such as eth0"},
	"/$defs/interface/properties/mac":            {"invalid MAC address %q", "write six hex pairs separated by ':', such as 52:54:00:12:34:56"},
	"/$defs/log/properties/syslog":               {"invalid syslog server %q", "use udp://host:port or tcp://host:port"},
}

// schemaCheck validates t's document against schema.json and turns each
// failure into a positioned diagnostic. Values that fail are pruned from
// the tree so that decoding and the semantic checks see only well-formed
// values and report nothing twice.
func (t *tree) schemaCheck() {
	cs, err := loadSchema()
	if err != nil {
		t.errAt(pos{1, 1}, "", "", "internal error: %v", err)
		t.root = nil
		return
	}
	err = cs.schema.Validate(t.root)
	if err == nil {
		return
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		t.errAt(pos{1, 1}, "", "", "internal error: validate: %v", err)
		t.root = nil
		return
	}
	var prune [][]string
	t.explain(cs, ve, &prune)
	for _, p := range prune {
		t.prune(p)
	}
}

// fragment returns the JSON pointer part of a schema location.
func fragment(schemaLoc string) string {
	if i := strings.IndexByte(schemaLoc, '#'); i >= 0 {
		return schemaLoc[i+1:]
	}
	return ""
}

// typeMismatchOnly reports whether e failed only because the value at loc
// has another JSON type: for a oneOf, such a branch is not the one the
// user meant.
func typeMismatchOnly(e *jsonschema.ValidationError, loc []string) bool {
	if len(e.Causes) == 0 {
		_, isType := e.ErrorKind.(*kind.Type)
		return isType && slices.Equal(e.InstanceLocation, loc)
	}
	for _, c := range e.Causes {
		if !typeMismatchOnly(c, loc) {
			return false
		}
	}
	return true
}

func (t *tree) explain(cs *compiledSchema, e *jsonschema.ValidationError, prune *[][]string) {
	ptr := pointer(e.InstanceLocation)
	l := t.locate(ptr)
	frag := fragment(e.SchemaURL)
	switch k := e.ErrorKind.(type) {
	case *kind.OneOf, *kind.AnyOf:
		if k, ok := k.(*kind.OneOf); !ok || len(k.Subschemas) < 2 {
			var meant []*jsonschema.ValidationError
			for _, c := range e.Causes {
				if !typeMismatchOnly(c, e.InstanceLocation) {
					meant = append(meant, c)
				}
			}
			// Exactly one branch fits the value's type: its complaints
			// are the useful ones.
			if len(meant) == 1 {
				t.explain(cs, meant[0], prune)
				return
			}
		}
		msg, ok := choiceMessages[frag]
		if !ok {
			msg = [2]string{"does not match any allowed form", ""}
		}
		t.errAt(l.key, l.path, msg[1], "%s", msg[0])
		if frag == "/$defs/debSource" {
			*prune = append(*prune, e.InstanceLocation)
		}
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = typeName(w)
		}
		hint := ""
		if slices.Contains(k.Want, "string") && l.scalar && (k.Got == "number" || k.Got == "integer" || k.Got == "boolean") {
			hint = fmt.Sprintf("quote it to make it a string: %q", l.text)
		}
		if slices.Contains(k.Want, "boolean") && k.Got == "string" {
			hint = "use true or false"
		}
		if k.Got == "null" {
			hint = "give it a value or remove the key"
		}
		if frag == "/$defs/duration" && (k.Got == "number" || k.Got == "integer") {
			hint = fmt.Sprintf("durations need a unit: %q", l.text+"s")
		}
		t.errAt(l.val, l.path, hint, "expected %s, got %s", strings.Join(want, " or "), typeName(k.Got))
		*prune = append(*prune, e.InstanceLocation)
	case *kind.Enum:
		var opts []string
		for _, w := range k.Want {
			opts = append(opts, fmt.Sprint(w))
		}
		hint := "one of: " + strings.Join(opts, ", ")
		got, isStr := k.Got.(string)
		if s := suggest(got, opts); isStr && s != "" {
			t.errAt(l.val, l.path, hint, "invalid value %q; did you mean %q?", got, s)
		} else if isStr {
			t.errAt(l.val, l.path, hint, "invalid value %q", got)
		} else {
			t.errAt(l.val, l.path, hint, "invalid value %v", k.Got)
		}
		*prune = append(*prune, e.InstanceLocation)
	case *kind.Required:
		for _, m := range k.Missing {
			t.errAt(l.key, childPath(l.path, m), "", "required key %q is missing", m)
		}
	case *kind.DependentRequired:
		for _, m := range k.Missing {
			kl := t.locate(childPtr(ptr, k.Prop))
			if k.Prop == "modules_dir" {
				t.errAt(kl.key, kl.path, "remove modules_dir or use vmlinuz", "modules_dir is only used with vmlinuz")
				continue
			}
			t.errAt(kl.key, kl.path, fmt.Sprintf("add %s", m), "%s requires %s", k.Prop, m)
		}
	case *kind.AdditionalProperties:
		known := cs.properties(frag)
		for _, p := range k.Properties {
			kl := t.locate(childPtr(ptr, p))
			hint := ""
			if len(known) > 0 {
				hint = "known keys: " + strings.Join(known, ", ")
			}
			if s := suggest(p, known); s != "" {
				t.errAt(kl.key, kl.path, hint, "unknown key %q; did you mean %q?", p, s)
			} else {
				t.errAt(kl.key, kl.path, hint, "unknown key %q", p)
			}
		}
	case *kind.PropertyNames:
		// The failing pattern is reported as a cause at the key's
		// location; report it once, here, at the key.
		// jsonschema v6.0.3 reports a garbled instance location for
		// propertyNames (["name" "env"] for /app/env), so the object is
		// found by the schema location instead; app.env is the only map.
		parent := e.InstanceLocation
		if frag == "/$defs/app/properties/env/propertyNames" {
			parent = []string{"app", "env"}
		}
		kl := t.locate(childPtr(pointer(parent), k.Property))
		msg, ok := patternMessages[frag]
		if !ok {
			msg = [2]string{"invalid key %q", ""}
		}
		t.errAt(kl.key, kl.path, msg[1], msg[0], k.Property)
		*prune = append(*prune, append(slices.Clone(parent), k.Property))
	case *kind.Pattern:
		if k.Got == "" {
			// minLength reports this too, with these words, and Sort
			// drops the exact duplicate.
			t.errAt(l.val, l.path, "give it a value or remove the key", "must not be empty")
			*prune = append(*prune, e.InstanceLocation)
			return
		}
		msg, ok := patternMessages[frag]
		if !ok {
			msg = [2]string{"invalid value %q", "must match " + k.Want}
		}
		hint := msg[1]
		if frag == "/$defs/duration" && strings.Trim(k.Got, "0123456789") == "" {
			hint = fmt.Sprintf("durations need a unit: %q", k.Got+"s")
		}
		t.errAt(l.val, l.path, hint, msg[0], k.Got)
		*prune = append(*prune, e.InstanceLocation)
	case *kind.MinLength:
		t.errAt(l.val, l.path, "give it a value or remove the key", "must not be empty")
		*prune = append(*prune, e.InstanceLocation)
	case *kind.MaxLength:
		t.errAt(l.val, l.path, "", "too long: %d characters, at most %d", k.Got, k.Want)
		*prune = append(*prune, e.InstanceLocation)
	case *kind.Minimum:
		t.errAt(l.val, l.path, "", "%s is below the minimum, %s", k.Got.RatString(), k.Want.RatString())
		*prune = append(*prune, e.InstanceLocation)
	case *kind.Maximum:
		t.errAt(l.val, l.path, "", "%s is above the maximum, %s", k.Got.RatString(), k.Want.RatString())
		*prune = append(*prune, e.InstanceLocation)
	case *kind.MinItems:
		t.errAt(l.val, l.path, "list at least one entry or remove the key", "must not be empty")
	default:
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				t.explain(cs, c, prune)
			}
			return
		}
		t.errAt(l.val, l.path, "", "%s", k.LocalizedString(printer))
		*prune = append(*prune, e.InstanceLocation)
	}
}

// typeName names a JSON type the way a YAML author thinks of it.
func typeName(jsonType string) string {
	switch jsonType {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "string":
		return "a string"
	case "boolean":
		return "a boolean"
	case "integer":
		return "an integer"
	case "number":
		return "a number"
	case "null":
		return "nothing (null)"
	}
	return jsonType
}

// properties returns the sorted property names of the schema object at
// frag, for suggestions.
func (cs *compiledSchema) properties(frag string) []string {
	var node any = cs.raw
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		switch n := node.(type) {
		case map[string]any:
			node = n[strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n) {
				return nil
			}
			node = n[i]
		default:
			return nil
		}
	}
	m, _ := node.(map[string]any)
	props, _ := m["properties"].(map[string]any)
	var names []string
	for name := range props {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
