package spec

import (
	"io"
	"testing"
)

// FuzzParse checks that no input panics Parse, and that every diagnostic
// is positioned and well-formed. The seed corpus is in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(head + "app: {go: ./hello}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// A directory that does not exist keeps the file checks cheap and
		// independent of the machine.
		s, diags := Parse("/nonexistent/tinyboot.yaml", data)
		if s == nil {
			t.Fatal("nil spec")
		}
		for _, d := range diags {
			if d.Line < 1 || d.Column < 0 || d.Message == "" || (d.Severity != SeverityError && d.Severity != SeverityWarning) {
				t.Fatalf("malformed diagnostic %+v", d)
			}
		}
		if !diags.HasErrors() {
			s.ApplyDefaults()
		}
		for _, w := range []func(io.Writer) error{diags.WriteHuman, diags.WriteJSON, diags.WriteGitHub} {
			if err := w(io.Discard); err != nil {
				t.Fatal(err)
			}
		}
	})
}
