package ar

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type member struct {
	name string
	data string
}

// build writes a GNU-style ar archive; a name starting with "#1/" is
// written BSD-style with the name in the data.
func build(members []member) []byte {
	var b bytes.Buffer
	b.WriteString(Magic)
	for _, m := range members {
		name, data := m.name+"/", m.data
		if rest, ok := strings.CutPrefix(m.name, "#1/"); ok {
			name, data = fmt.Sprintf("#1/%d", len(rest)), rest+m.data
		}
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", name, 1700000000, 0, 0, 0o100644, len(data))
		b.WriteString(data)
		if len(data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func readAll(r io.Reader) ([]member, error) {
	ar := NewReader(r)
	var out []member
	for {
		hdr, err := ar.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		b, err := io.ReadAll(ar)
		if err != nil {
			return out, err
		}
		if int64(len(b)) != hdr.Size {
			return out, fmt.Errorf("member %s: read %d bytes, header says %d", hdr.Name, len(b), hdr.Size)
		}
		out = append(out, member{hdr.Name, string(b)})
	}
}

func TestReader(t *testing.T) {
	in := []member{
		{"debian-binary", "2.0\n"},
		{"odd", "abc"},
		{"empty", ""},
		{"#1/a-long-bsd-style-name.txt", "xyz"},
		{"last", "12345"},
	}
	want := append([]member(nil), in...)
	want[3].name = "a-long-bsd-style-name.txt"
	raw := build(in)
	readers := map[string]func() io.Reader{
		"seeker":   func() io.Reader { return bytes.NewReader(raw) },
		"stream":   func() io.Reader { return iotest.OneByteReader(bytes.NewReader(raw)) },
		"skipping": nil, // exercises skipping unread data, below
	}
	for name, mk := range readers {
		t.Run(name, func(t *testing.T) {
			if mk == nil {
				ar := NewReader(bytes.NewReader(raw))
				var names []string
				for {
					hdr, err := ar.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					names = append(names, hdr.Name)
				}
				if got := strings.Join(names, ","); got != "debian-binary,odd,empty,a-long-bsd-style-name.txt,last" {
					t.Fatalf("names = %s", got)
				}
				return
			}
			got, err := readAll(mk())
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	good := build([]member{{"a", "0123456789"}, {"b", "x"}})
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "not an ar archive"},
		{"bad magic", []byte("!<arch>X"), "not an ar archive"},
		{"short header", good[:30], "truncated member header (want 60 bytes, got 22)"},
		{"truncated data", good[:8+60+4], "truncated ar member a (want 10 bytes, got 4)"},
		{"bad terminator", append(append([]byte{}, good[:8+58]...), "xx"...), "bad member header terminator"},
		{"bad size", []byte(Magic + fmt.Sprintf("%-16s%-12d%-6d%-6d%-8o%-10s`\n", "a/", 0, 0, 0, 0o644, "-5")), "bad size field"},
		{"bad bsd name", []byte(Magic + fmt.Sprintf("%-16s%-12d%-6d%-6d%-8o%-10d`\n", "#1/99", 0, 0, 0, 0o644, 4)), "bad BSD long name"},
	}
	for _, tt := range tests {
		for _, mode := range []string{"seeker", "stream"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				var r io.Reader = bytes.NewReader(tt.in)
				if mode == "stream" {
					r = iotest.OneByteReader(r)
				}
				// Skip over data without reading it, then read it, so
				// both the skip and the Read paths see truncation.
				_, err := readAll(r)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.want)
				}
				ar := NewReader(bytes.NewReader(tt.in))
				for err == nil {
					_, err = ar.Next()
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("skipping: err = %v, want %q", err, tt.want)
				}
			})
		}
	}
}
