package spec

import (
	"bytes"
	"testing"
)

var sample = Diagnostics{
	{File: "t.yaml", Line: 3, Column: 12, Path: "app.on_exit", Message: `invalid value "rebot"; did you mean "reboot"?`, Hint: "one of: reboot, poweroff, halt", Severity: SeverityError},
	{File: "t.yaml", Line: 2, Column: 0, Message: "YAML syntax error: 50% broken", Severity: SeverityError},
	{File: "t.yaml", Line: 5, Column: 3, Path: "persistent.required", Message: "required volume is found by the default label", Severity: SeverityWarning},
}

func TestWriters(t *testing.T) {
	tests := []struct {
		name  string
		write func(Diagnostics, *bytes.Buffer) error
		want  string
	}{
		{"human", func(d Diagnostics, b *bytes.Buffer) error { return d.WriteHuman(b) },
			"t.yaml:3:12: app.on_exit: invalid value \"rebot\"; did you mean \"reboot\"?\n" +
				"  hint: one of: reboot, poweroff, halt\n" +
				"t.yaml:2: YAML syntax error: 50% broken\n" +
				"t.yaml:5:3: warning: persistent.required: required volume is found by the default label\n"},
		{"github", func(d Diagnostics, b *bytes.Buffer) error { return d.WriteGitHub(b) },
			"::error file=t.yaml,line=3,col=12::app.on_exit: invalid value \"rebot\"; did you mean \"reboot\"?%0Ahint: one of: reboot, poweroff, halt\n" +
				"::error file=t.yaml,line=2::YAML syntax error: 50%25 broken\n" +
				"::warning file=t.yaml,line=5,col=3::persistent.required: required volume is found by the default label\n"},
		{"json", func(d Diagnostics, b *bytes.Buffer) error { return d[:1].WriteJSON(b) }, `[
  {
    "file": "t.yaml",
    "line": 3,
    "column": 12,
    "path": "app.on_exit",
    "message": "invalid value \"rebot\"; did you mean \"reboot\"?",
    "hint": "one of: reboot, poweroff, halt",
    "severity": "error"
  }
]
`},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		if err := tc.write(sample, &b); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, b.String(), tc.want)
		}
	}
	var b bytes.Buffer
	if err := Diagnostics(nil).WriteJSON(&b); err != nil || b.String() != "[]\n" {
		t.Errorf("empty JSON = %q, %v", b.String(), err)
	}
}

func TestSeverities(t *testing.T) {
	if !sample.HasErrors() || !sample.HasWarnings() {
		t.Error("sample has both")
	}
	warn := sample[2:]
	if warn.HasErrors() || !warn.HasWarnings() {
		t.Error("warnings only")
	}
	if Diagnostics(nil).HasErrors() {
		t.Error("nil has errors")
	}
}

func TestSortDedups(t *testing.T) {
	ds := Diagnostics{sample[0], sample[1], sample[0]}.Sort()
	if len(ds) != 2 || ds[0].Line != 2 || ds[1].Line != 3 {
		t.Errorf("Sort = %v", ds)
	}
}

func TestSuggest(t *testing.T) {
	opts := []string{"name", "kernel", "reboot", "poweroff", "go"}
	for in, want := range map[string]string{"nmae": "name", "rebot": "reboot", "kernal": "kernel", "foo": "", "": "", "poweroof": "poweroff", "xyzzy": ""} {
		if got := suggest(in, opts); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
