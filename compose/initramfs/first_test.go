package initramfs

import (
	"reflect"
	"testing"
)

func TestWriteFirst(t *testing.T) {
	a := New()
	for _, p := range []string{"/bin/app", "/init", "/etc/x"} {
		if err := a.File(p, 0o644, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.WriteFirst("/init"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range a.Entries() {
		got = append(got, e.Path)
	}
	if want := []string{"/init", "/bin", "/bin/app", "/etc", "/etc/x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
	for _, bad := range []string{"/bin/app", "/"} {
		if err := a.WriteFirst(bad); err == nil {
			t.Errorf("WriteFirst(%q): no error", bad)
		}
	}
}
