package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Load reads and checks the spec at path. The error is only for I/O
// problems (the file cannot be read); every problem with the spec itself
// is a Diagnostic. The returned Spec is usable only when the diagnostics
// hold no errors; defaults are not applied.
func Load(path string) (*Spec, Diagnostics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read spec: %w", err)
	}
	s, diags := Parse(path, data)
	return s, diags, nil
}

// Parse checks data, the contents of filename, in three passes: YAML
// syntax and structure (duplicate keys, one document), schema.json (keys,
// types, enums, patterns), and the semantic checks schema.json cannot
// express (files exist, paths do not overlap, labels fit). Every problem
// found is returned, sorted by position.
//
// Dir is the absolute form of filepath.Dir(filename), so that paths the
// spec resolves (including the default output) are absolute.
func Parse(filename string, data []byte) (*Spec, Diagnostics) {
	dir := filepath.Dir(filename)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	s := &Spec{Path: filename, Dir: dir}
	t := newTree(filename)
	doc, ok := t.parseYAML(data)
	if !ok {
		return s, t.diags.Sort()
	}
	t.root = t.convert(doc, nil, "", "", 0)
	if t.tooBig {
		// An alias bomb: whatever else is wrong with it is not worth
		// the time to find.
		return s, t.diags.Sort()
	}
	t.schemaCheck()
	t.checkDurations()
	if _, isMap := t.root.(map[string]any); !isMap {
		return s, t.diags.Sort()
	}
	if err := t.decode(s); err != nil {
		t.errAt(pos{1, 1}, "", "", "internal error: %v", err)
		return s, t.diags.Sort()
	}
	c := &checker{t: t, s: s}
	c.check()
	return s, t.diags.Sort()
}

// yamlLine matches the position yaml.v3 puts in its syntax errors. It has
// no column, and for some parser errors it names the line where the
// construct began rather than where it broke.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses data as exactly one YAML document.
func (t *tree) parseYAML(data []byte) (doc *yaml.Node, ok bool) {
	if len(bytes.TrimSpace(data)) == 0 {
		t.errAt(pos{1, 1}, "", "start from examples/tinyboot.yaml", "spec is empty")
		return nil, false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first yaml.Node
	if err := t.decodeNode(dec, &first, data); err != nil {
		if errors.Is(err, io.EOF) {
			t.errAt(pos{1, 1}, "", "start from examples/tinyboot.yaml", "spec is empty")
		}
		return nil, false
	}
	var second yaml.Node
	switch err := t.decodeNode(dec, &second, data); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, false
	default:
		t.errAt(nodePos(&second), "", "remove the --- separator and everything after it, or merge the documents",
			"more than one YAML document; a spec is a single document")
	}
	if len(first.Content) == 0 {
		t.errAt(pos{1, 1}, "", "start from examples/tinyboot.yaml", "spec is empty")
		return nil, false
	}
	return &first, true
}

// decodeNode decodes the next document into n, reporting syntax errors.
// yaml.v3 has panicked on hostile input in the past; a parser bug must
// not take the validator down, so a panic becomes a diagnostic.
func (t *tree) decodeNode(dec *yaml.Decoder, n *yaml.Node, data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			t.errAt(pos{1, 1}, "", "", "YAML parser failed: %v", r)
			err = fmt.Errorf("yaml parser panic: %v", r)
		}
	}()
	err = dec.Decode(n)
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	t.syntaxError(err, data)
	return err
}

func (t *tree) syntaxError(err error, data []byte) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		// yaml.v3 adds one to the 0-based line of scanner errors but not
		// of parser errors, which all read "did not find expected ...".
		if strings.HasPrefix(m[2], "did not find expected") {
			line++
		}
		t.errAt(pos{line, 0}, "", "", "YAML syntax error: %s", m[2])
		return
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	p := pos{1, 0}
	// Two messages without a line name what to look for; find it.
	if name, found := strings.CutPrefix(msg, "unknown anchor '"); found {
		name, _, _ = strings.Cut(name, "'")
		if i := bytes.Index(data, []byte("*"+name)); i >= 0 {
			p = offsetPos(data, i)
		}
	} else if strings.Contains(msg, "control characters") {
		if i := bytes.IndexFunc(data, func(r rune) bool { return r < ' ' && r != '\t' && r != '\n' && r != '\r' }); i >= 0 {
			p = offsetPos(data, i)
		}
	}
	t.errAt(p, "", "", "YAML syntax error: %s", msg)
}

// offsetPos converts a byte offset to a line and (rune) column.
func offsetPos(data []byte, off int) pos {
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return pos{line, len([]rune(string(before[start:]))) + 1}
}

// durationPtrs are the spec's duration fields.
var durationPtrs = []string{"/app/stop_timeout", "/persistent/wait", "/network/wait", "/time/wait", "/watchdog/timeout"}

// checkDurations catches what the schema's duration pattern cannot: a
// value too large for time.Duration.
func (t *tree) checkDurations() {
	for _, ptr := range durationPtrs {
		tokens := strings.Split(ptr, "/")[1:]
		v, ok := lookup(t.root, tokens)
		s, isStr := v.(string)
		if !ok || !isStr {
			continue
		}
		if _, err := time.ParseDuration(s); err != nil {
			l := t.locate(ptr)
			t.errAt(l.val, l.path, "", "invalid duration %q: out of range", s)
			t.prune(tokens)
		}
	}
}

func lookup(v any, tokens []string) (any, bool) {
	for _, tok := range tokens {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return v, true
}

// decode fills s from the tree. The schema has already vouched for (or
// pruned) every value, so going through encoding/json, whose tags match
// the YAML keys, cannot meet a type it does not expect.
func (t *tree) decode(s *Spec) error {
	b, err := json.Marshal(t.root)
	if err != nil {
		return fmt.Errorf("encode spec: %w", err)
	}
	if err := json.Unmarshal(b, s); err != nil {
		return fmt.Errorf("decode spec: %w", err)
	}
	return nil
}
