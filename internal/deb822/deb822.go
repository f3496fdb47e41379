// Package deb822 reads files in Debian's control-file syntax (deb822(5)):
// a .deb's control file, an archive's Packages index and Release file,
// and apt's .sources files. It is tinyboot's one parser of that syntax.
//
// A file is a sequence of paragraphs separated by blank lines; a
// paragraph is a sequence of "Name: value" fields whose values may go on
// over continuation lines (starting with a space or a tab). Field names
// are case-insensitive. Lines starting with '#' are comments.
//
// The reader streams: an index of tens of thousands of paragraphs is
// read one at a time, and Keep drops the fields nobody asks for (a
// Packages index is mostly descriptions) before they cost an allocation.
package deb822

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Field is one field of a paragraph.
type Field struct {
	// Name is the field's name as spelled in the file.
	Name string
	// Key is Name in lower case, for comparing names.
	Key string
	// Value is the text after the colon with surrounding space removed;
	// each continuation line adds "\n" and the line, trimmed, with a lone
	// "." standing for an empty line.
	Value string
	// Line is the file's line number (from 1) of the field's first line.
	Line int
}

// Paragraph is one paragraph of a file.
type Paragraph struct {
	// Line is the line number of the paragraph's first field.
	Line   int
	Fields []Field
}

// Get returns the value of the field called name, in any case.
func (p *Paragraph) Get(name string) (string, bool) {
	for _, f := range p.Fields {
		if len(f.Key) == len(name) && strings.EqualFold(f.Key, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Value is Get without the presence flag.
func (p *Paragraph) Value(name string) string {
	v, _ := p.Get(name)
	return v
}

// maxLine bounds one line, so a file that is not deb822 (no newline in
// megabytes) is an error rather than a whole file in memory.
const maxLine = 16 << 20

// Reader reads the paragraphs of one file.
type Reader struct {
	br   *bufio.Reader
	line int
	// keep is nil to keep every field. keys caches each name's Key by the
	// name as spelled ("" for a field not kept), which spares lowercasing
	// every field name of an index.
	keep map[string]bool
	keys map[string]string
	long []byte
}

// NewReader reads paragraphs from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10), keys: map[string]string{}}
}

// Keep limits the fields Next returns to those named (in any case); the
// others are still checked for syntax.
func (r *Reader) Keep(names ...string) {
	r.keep = map[string]bool{}
	clear(r.keys)
	for _, n := range names {
		r.keep[strings.ToLower(n)] = true
	}
}

// key is the Key of a field called name, or "" when it is not kept.
func (r *Reader) key(name []byte) string {
	if k, ok := r.keys[string(name)]; ok {
		return k
	}
	k := strings.ToLower(string(name))
	if r.keep != nil && !r.keep[k] {
		k = ""
	}
	r.keys[string(name)] = k
	return k
}

// readLine returns the next line without its line ending; the slice is
// valid until the next call.
func (r *Reader) readLine() ([]byte, error) {
	b, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.long = append(r.long[:0], b...)
		for err == bufio.ErrBufferFull {
			b, err = r.br.ReadSlice('\n')
			r.long = append(r.long, b...)
			if len(r.long) > maxLine {
				return nil, fmt.Errorf("line %d is longer than %d bytes: not a deb822 file", r.line+1, maxLine)
			}
		}
		b = r.long
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if len(b) == 0 && err == io.EOF {
		return nil, io.EOF
	}
	r.line++
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r")), nil
}

// Next returns the next paragraph, or io.EOF after the last. Errors name
// the line; a field given twice in one paragraph is an error.
func (r *Reader) Next() (*Paragraph, error) {
	var p *Paragraph
	// last is the field continuation lines extend, nil for a field not
	// kept; inField says whether any field came before.
	var last *Field
	inField := false
	for {
		b, err := r.readLine()
		if errors.Is(err, io.EOF) {
			if p == nil {
				return nil, io.EOF
			}
			return p, nil
		}
		if err != nil {
			return nil, err
		}
		switch {
		case len(b) > 0 && b[0] == '#':
		case len(bytes.TrimSpace(b)) == 0:
			if p != nil {
				return p, nil
			}
		case b[0] == ' ' || b[0] == '\t':
			if !inField {
				return nil, fmt.Errorf("line %d: continuation line before any field", r.line)
			}
			if last != nil {
				cont := string(bytes.TrimSpace(b))
				if cont == "." {
					cont = ""
				}
				last.Value += "\n" + cont
			}
		default:
			name, value, ok := bytes.Cut(b, []byte(":"))
			if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
				return nil, fmt.Errorf("line %d: not a field: %q", r.line, truncate(string(b), 40))
			}
			if p == nil {
				// Room for every kept field spares growing the slice
				// once per paragraph of an index.
				n := 8
				if r.keep != nil {
					n = len(r.keep)
				}
				p = &Paragraph{Line: r.line, Fields: make([]Field, 0, n)}
			}
			inField, last = true, nil
			key := r.key(name)
			if key == "" {
				continue
			}
			n := string(name)
			if _, dup := p.Get(key); dup {
				return nil, fmt.Errorf("line %d: duplicate field %s in one paragraph", r.line, n)
			}
			p.Fields = append(p.Fields, Field{Name: n, Key: key, Value: string(bytes.TrimSpace(value)), Line: r.line})
			last = &p.Fields[len(p.Fields)-1]
		}
	}
}

// ReadAll returns every paragraph of r.
func ReadAll(r io.Reader) ([]*Paragraph, error) {
	dr := NewReader(r)
	var out []*Paragraph
	for {
		p, err := dr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
