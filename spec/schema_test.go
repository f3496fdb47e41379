package spec

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot"
)

// schemaDoc is schema.json decoded, for walking alongside the Go types.
type schemaDoc struct {
	t    *testing.T
	root map[string]any
}

// resolve follows $ref chains within schema.json.
func (d *schemaDoc) resolve(path string, n map[string]any) map[string]any {
	for range 10 {
		ref, ok := n["$ref"].(string)
		if !ok {
			return n
		}
		var node any = d.root
		for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, _ := node.(map[string]any)
			node = m[tok]
		}
		next, ok := node.(map[string]any)
		if !ok {
			d.t.Fatalf("%s: $ref %q does not resolve", path, ref)
		}
		n = next
	}
	d.t.Fatalf("%s: $ref chain too long", path)
	return nil
}

// yamlFields lists t's fields by YAML key, with whether they may be
// omitted.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		out[name] = f
	}
	return out
}

func (d *schemaDoc) object(path string, t reflect.Type, n map[string]any) {
	n = d.resolve(path, n)
	if n["type"] != "object" || n["additionalProperties"] != false {
		d.t.Errorf("%s: schema is not a closed object (type %v, additionalProperties %v)", path, n["type"], n["additionalProperties"])
	}
	props, _ := n["properties"].(map[string]any)
	var required []string
	for _, r := range anySlice(n["required"]) {
		required = append(required, r.(string))
	}
	fields := yamlFields(t)
	for name, f := range fields {
		p, ok := props[name].(map[string]any)
		if !ok {
			d.t.Errorf("%s.%s: Go field %s has no schema property", path, name, f.Name)
			continue
		}
		if p["description"] == nil && d.resolve(path+"."+name, p)["description"] == nil {
			d.t.Errorf("%s.%s: no description (editors show it)", path, name)
		}
		omit := strings.Contains(f.Tag.Get("yaml"), ",omitempty")
		if req := slices.Contains(required, name); req == omit {
			d.t.Errorf("%s.%s: schema required=%v but yaml omitempty=%v", path, name, req, omit)
		}
		if jsonName, _, _ := strings.Cut(f.Tag.Get("json"), ","); jsonName != name {
			d.t.Errorf("%s.%s: json tag %q differs from yaml key (Parse decodes through JSON)", path, name, jsonName)
		}
		d.value(path+"."+name, f.Type, p)
	}
	for name := range props {
		if _, ok := fields[name]; !ok {
			d.t.Errorf("%s.%s: schema property has no Go field in %s", path, name, t)
		}
	}
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

var (
	durationType  = reflect.TypeFor[Duration]()
	debSourceType = reflect.TypeFor[DebSource]()
	archesType    = reflect.TypeFor[Arches]()
)

func (d *schemaDoc) value(path string, t reflect.Type, n map[string]any) {
	n = d.resolve(path, n)
	switch {
	case t == durationType:
		pat, _ := n["pattern"].(string)
		re, err := regexp.Compile(pat)
		if n["type"] != "string" || err != nil {
			d.t.Errorf("%s: duration schema is not a string pattern: %v", path, err)
			return
		}
		for _, ok := range []string{DefaultStopTimeout.String(), "1m30s", "500ms", "0", "1.5h", "2h45m30.5s"} {
			if !re.MatchString(ok) {
				d.t.Errorf("%s: duration pattern rejects %q", path, ok)
			}
		}
		for _, bad := range []string{"10", "-1s", "10 s", "1d", "s", ""} {
			if re.MatchString(bad) {
				d.t.Errorf("%s: duration pattern accepts %q", path, bad)
			}
		}
	case t == debSourceType:
		// DebSource is written either as a plain string (its Path) or as
		// a mapping of its other fields.
		forms := anySlice(n["oneOf"])
		if len(forms) != 2 {
			d.t.Fatalf("%s: want oneOf [path, {url, sha256}]", path)
		}
		if s := d.resolve(path, forms[0].(map[string]any)); s["type"] != "string" {
			d.t.Errorf("%s: first form is %v, want string (Path)", path, s["type"])
		}
		obj := d.resolve(path, forms[1].(map[string]any))
		props, _ := obj["properties"].(map[string]any)
		fields := yamlFields(t)
		delete(fields, "path")
		if len(props) != len(fields) {
			d.t.Errorf("%s: mapping form has %d properties, Go has %d fields besides path", path, len(props), len(fields))
		}
		for name, f := range fields {
			p, ok := props[name].(map[string]any)
			if !ok {
				d.t.Errorf("%s.%s: no schema property", path, name)
				continue
			}
			d.value(path+"."+name, f.Type, p)
		}
	case t == archesType:
		// Arches is written as one name or a list of names.
		forms := anySlice(n["oneOf"])
		if len(forms) != 2 {
			d.t.Fatalf("%s: want oneOf [name, [names]]", path)
		}
		d.value(path, reflect.TypeFor[string](), d.resolve(path, forms[0].(map[string]any)))
		d.value(path, reflect.TypeFor[[]string](), d.resolve(path, forms[1].(map[string]any)))
	case t.Kind() == reflect.Pointer:
		d.value(path, t.Elem(), n)
	case t.Kind() == reflect.Struct:
		d.object(path, t, n)
	case t.Kind() == reflect.String:
		if n["type"] != "string" && n["enum"] == nil {
			d.t.Errorf("%s: Go string, schema %v", path, n["type"])
		}
		for _, e := range anySlice(n["enum"]) {
			if _, ok := e.(string); !ok {
				d.t.Errorf("%s: enum value %v is not a string", path, e)
			}
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		if n["type"] != "integer" {
			d.t.Errorf("%s: Go %s, schema %v", path, t.Kind(), n["type"])
		}
		if t.Kind() >= reflect.Uint && n["minimum"] != float64(0) {
			d.t.Errorf("%s: Go %s, schema has no minimum 0", path, t.Kind())
		}
	case t.Kind() == reflect.Bool:
		if n["type"] != "boolean" {
			d.t.Errorf("%s: Go bool, schema %v", path, n["type"])
		}
	case t.Kind() == reflect.Int:
		if n["type"] != "integer" {
			d.t.Errorf("%s: Go int, schema %v", path, n["type"])
		}
	case t.Kind() == reflect.Slice:
		items, ok := n["items"].(map[string]any)
		if n["type"] != "array" || !ok {
			d.t.Errorf("%s: Go slice, schema %v", path, n["type"])
			return
		}
		d.value(path+"[]", t.Elem(), items)
	case t.Kind() == reflect.Map:
		elem, ok := n["additionalProperties"].(map[string]any)
		if n["type"] != "object" || !ok || t.Key().Kind() != reflect.String {
			d.t.Errorf("%s: Go map, schema %v", path, n["type"])
			return
		}
		d.value(path+"{}", t.Elem(), elem)
	default:
		d.t.Errorf("%s: Go type %s has no schema mapping", path, t)
	}
}

// TestSchemaMatchesTypes walks schema.json and the Go types together:
// every YAML key is a schema property and back, required keys are the
// ones without omitempty, and the value types agree, all the way down.
func TestSchemaMatchesTypes(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(tinyboot.Schema, &root); err != nil {
		t.Fatal(err)
	}
	if root["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", root["$schema"])
	}
	d := &schemaDoc{t: t, root: root}
	d.object("spec", reflect.TypeFor[Spec](), root)
}

// TestSchemaEnums checks the enums against the Go constants.
func TestSchemaEnums(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(tinyboot.Schema, &root); err != nil {
		t.Fatal(err)
	}
	d := &schemaDoc{t: t, root: root}
	defs := root["$defs"].(map[string]any)
	enum := func(def, prop string) []string {
		n := d.resolve(def, defs[def].(map[string]any))
		p := n["properties"].(map[string]any)[prop].(map[string]any)
		var out []string
		for _, e := range anySlice(p["enum"]) {
			out = append(out, e.(string))
		}
		return out
	}
	tests := []struct {
		def, prop string
		want      []string
	}{
		{"app", "restart", []string{RestartNever, RestartOnFailure, RestartAlways}},
		{"app", "on_exit", []string{OnExitReboot, OnExitPoweroff, OnExitHalt}},
		{"persistent", "fs", []string{FSBtrfs, FSExt4}},
	}
	for _, tc := range tests {
		if got := enum(tc.def, tc.prop); !slices.Equal(got, tc.want) {
			t.Errorf("%s.%s enum = %v, want %v", tc.def, tc.prop, got, tc.want)
		}
	}
}

func TestSchemaCompiles(t *testing.T) {
	if _, err := loadSchema(); err != nil {
		t.Fatal(err)
	}
}
