package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// pos is a 1-based line and column in the spec file.
type pos struct{ line, col int }

// loc is what the tree knows about one value: where its key and the value
// itself are written, its dotted path for messages, and its source text
// when it is a scalar.
type loc struct {
	key, val pos
	path     string
	text     string
	scalar   bool
}

// Limits on hostile documents. A real spec has a few dozen nodes; these
// bounds stop alias bombs ("billion laughs") and deep nesting long before
// they cost memory or stack.
const (
	maxNodes = 10_000
	maxDepth = 64
)

// tree is a YAML document converted to the plain values JSON Schema
// validation works on (map[string]any, []any, string, bool, int64,
// float64, nil), with the position of every value indexed by its JSON
// pointer. yaml.v3 only reports duplicate keys when decoding into Go
// values and positions only on nodes, so the conversion is done here, on
// the node tree, to keep a line and column for every problem.
type tree struct {
	file  string
	root  any
	locs  map[string]*loc
	diags Diagnostics

	nodes     int
	tooBig    bool
	expanding map[*yaml.Node]bool
}

func newTree(file string) *tree {
	return &tree{file: file, locs: map[string]*loc{}, expanding: map[*yaml.Node]bool{}}
}

// ptrEscaper escapes a JSON pointer token (RFC 6901).
var ptrEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// pointer encodes JSON pointer tokens (RFC 6901), the form the schema
// validator reports instance locations in.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(ptrEscaper.Replace(t))
	}
	return b.String()
}

func childPtr(parent, token string) string {
	return parent + "/" + ptrEscaper.Replace(token)
}

func childPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func (t *tree) errAt(p pos, path, hint, format string, args ...any) {
	t.diags = append(t.diags, Diagnostic{
		File: t.file, Line: p.line, Column: p.col, Path: path,
		Message: fmt.Sprintf(format, args...), Hint: hint, Severity: SeverityError,
	})
}

func nodePos(n *yaml.Node) pos { return pos{n.Line, n.Column} }

// convert turns n into a plain value, recording its position under ptr.
// keyNode is the mapping key n is the value of (nil for list items and the
// root).
func (t *tree) convert(n *yaml.Node, keyNode *yaml.Node, ptr, path string, depth int) any {
	l := &loc{val: nodePos(n), key: nodePos(n), path: path}
	if keyNode != nil {
		l.key = nodePos(keyNode)
	}
	t.locs[ptr] = l
	return t.value(n, l, ptr, path, depth)
}

func (t *tree) value(n *yaml.Node, l *loc, ptr, path string, depth int) any {
	t.nodes++
	if t.nodes > maxNodes {
		if !t.tooBig {
			t.tooBig = true
			t.errAt(nodePos(n), path, "", "document too large (more than %d values after alias expansion)", maxNodes)
		}
		return nil
	}
	if depth > maxDepth {
		t.errAt(nodePos(n), path, "", "nested more than %d levels deep", maxDepth)
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		l.val, l.key = nodePos(n.Content[0]), nodePos(n.Content[0])
		return t.value(n.Content[0], l, ptr, path, depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil
		}
		if t.expanding[n.Alias] {
			t.errAt(nodePos(n), path, "", "alias *%s refers to itself", n.Value)
			return nil
		}
		t.expanding[n.Alias] = true
		defer delete(t.expanding, n.Alias)
		return t.value(n.Alias, l, ptr, path, depth+1)
	case yaml.MappingNode:
		return t.mapping(n, ptr, path, depth)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			out = append(out, t.convert(item, nil, childPtr(ptr, strconv.Itoa(i)), fmt.Sprintf("%s[%d]", path, i), depth+1))
		}
		return out
	case yaml.ScalarNode:
		l.scalar, l.text = true, n.Value
		return t.scalar(n, path)
	}
	return nil
}

func (t *tree) mapping(n *yaml.Node, ptr, path string, depth int) any {
	out := make(map[string]any, len(n.Content)/2)
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
			t.errAt(nodePos(k), path, "", "mapping keys must be plain strings")
			continue
		}
		if k.ShortTag() == "!!merge" {
			t.errAt(nodePos(k), path, "write the keys out in full", "merge keys (<<) are not supported")
			continue
		}
		name := k.Value
		cpath := childPath(path, name)
		if prev, dup := first[name]; dup {
			t.errAt(nodePos(k), cpath, fmt.Sprintf("the first %q is at line %d", name, prev.Line), "duplicate key %q", name)
			continue
		}
		first[name] = k
		out[name] = t.convert(v, k, childPtr(ptr, name), cpath, depth+1)
	}
	return out
}

// scalar resolves a scalar by its YAML 1.2 tag. Numbers only need to be
// told apart from strings (the schema has no numeric fields), so
// non-finite floats, which the schema validator cannot compare, become 0.
func (t *tree) scalar(n *yaml.Node, path string) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i
		}
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
		return float64(0)
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
		return float64(0)
	case "!!str", "!!timestamp", "!!binary":
		// Timestamps and binary stay as written: no field wants them
		// decoded, and a date-like string is still a string to the user.
		return n.Value
	default:
		t.errAt(nodePos(n), path, "remove the tag", "YAML tag %s is not supported", n.Tag)
	}
	return n.Value
}

// locate returns what is known about the value at ptr, falling back to the
// nearest ancestor that exists (a missing key is reported at its parent).
func (t *tree) locate(ptr string) *loc {
	for {
		if l, ok := t.locs[ptr]; ok {
			return l
		}
		i := strings.LastIndexByte(ptr, '/')
		if i < 0 {
			return &loc{val: pos{1, 1}, key: pos{1, 1}}
		}
		ptr = ptr[:i]
	}
}

// prune removes the value at ptr so that decoding into Go types skips
// what the schema already reported. List items become nil rather than
// disappearing, which keeps the indexes of their siblings (and so their
// positions) intact.
func (t *tree) prune(tokens []string) {
	if len(tokens) == 0 {
		t.root = nil
		return
	}
	parent := t.root
	for _, tok := range tokens[:len(tokens)-1] {
		switch p := parent.(type) {
		case map[string]any:
			parent = p[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(p) {
				return
			}
			parent = p[i]
		default:
			return
		}
	}
	last := tokens[len(tokens)-1]
	switch p := parent.(type) {
	case map[string]any:
		delete(p, last)
	case []any:
		if i, err := strconv.Atoi(last); err == nil && i >= 0 && i < len(p) {
			p[i] = nil
		}
	}
}
