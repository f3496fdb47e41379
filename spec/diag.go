package spec

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Severities of a Diagnostic.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Diagnostic is one problem found in a spec, positioned like a compiler
// message so that editors and CI annotate the right line.
type Diagnostic struct {
	// File is the spec's path as given to Load or Parse.
	File string `json:"file"`
	// Line and Column are 1-based; 0 means unknown (the YAML parser does
	// not report a column for syntax errors).
	Line   int `json:"line"`
	Column int `json:"column"`
	// Path names the offending key in dotted form, such as "app.on_exit"
	// or "files[1].dst"; empty for problems with the document as a whole.
	Path string `json:"path"`
	// Message says what is wrong; Hint, when set, how to fix it.
	Message string `json:"message"`
	Hint    string `json:"hint"`
	// Severity is SeverityError or SeverityWarning.
	Severity string `json:"severity"`
}

// String formats d like a compiler: FILE:LINE:COL: PATH: message.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.location())
	b.WriteString(": ")
	if d.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	if d.Path != "" {
		b.WriteString(d.Path)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	return b.String()
}

func (d Diagnostic) location() string {
	file := d.File
	if file == "" {
		file = "<input>"
	}
	switch {
	case d.Line > 0 && d.Column > 0:
		return fmt.Sprintf("%s:%d:%d", file, d.Line, d.Column)
	case d.Line > 0:
		return fmt.Sprintf("%s:%d", file, d.Line)
	}
	return file
}

// Diagnostics is every problem found in one spec.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error (not a warning).
func (ds Diagnostics) HasErrors() bool {
	return slices.ContainsFunc(ds, func(d Diagnostic) bool { return d.Severity != SeverityWarning })
}

// HasWarnings reports whether any diagnostic is a warning.
func (ds Diagnostics) HasWarnings() bool {
	return slices.ContainsFunc(ds, func(d Diagnostic) bool { return d.Severity == SeverityWarning })
}

// Sort orders ds by position, then path and message, so that output is
// stable whatever order the checks ran in. Exact duplicates are dropped.
func (ds Diagnostics) Sort() Diagnostics {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Message, b.Message),
		)
	})
	return slices.Compact(ds)
}

// WriteHuman writes ds as compiler-style lines, each followed by an
// indented hint line when there is a hint.
func (ds Diagnostics) WriteHuman(w io.Writer) error {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
		if d.Hint != "" {
			b.WriteString("  hint: ")
			b.WriteString(d.Hint)
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes ds as one indented JSON array ("[]" when empty), for
// tools that post-process the result.
func (ds Diagnostics) WriteJSON(w io.Writer) error {
	if ds == nil {
		ds = Diagnostics{}
	}
	b, err := json.MarshalIndent(ds, "", "  ")
	if err != nil {
		return fmt.Errorf("encode diagnostics: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteGitHub writes ds as GitHub Actions workflow commands, which the
// runner turns into annotations on the spec's lines.
func (ds Diagnostics) WriteGitHub(w io.Writer) error {
	var b strings.Builder
	for _, d := range ds {
		cmd := "error"
		if d.Severity == SeverityWarning {
			cmd = "warning"
		}
		props := []string{"file=" + ghProperty(d.File)}
		if d.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", d.Line))
		}
		if d.Column > 0 {
			props = append(props, fmt.Sprintf("col=%d", d.Column))
		}
		msg := d.Message
		if d.Path != "" {
			msg = d.Path + ": " + msg
		}
		if d.Hint != "" {
			msg += "\n" + "hint: " + d.Hint
		}
		fmt.Fprintf(&b, "::%s %s::%s\n", cmd, strings.Join(props, ","), ghData(msg))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ghData escapes a workflow command's message as the runner expects.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProperty escapes a workflow command's property value.
func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
