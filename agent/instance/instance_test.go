package instance

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseEnv(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr string
	}{
		{"#tinyboot-env\nA=1\n\n# note\nB=x=y\nexport C= spaced \r\n", map[string]string{"A": "1", "B": "x=y", "C": " spaced "}, ""},
		{"A=\n", map[string]string{"A": ""}, ""},
		{"#tinyboot-env\nA=1\nnot a pair\n", nil, "line 3: want KEY=VALUE"},
		{"1A=secret\n", nil, "line 1: the name"},
		{"A B=secret\n", nil, "line 1: the name"},
	}
	for _, tt := range tests {
		got, err := ParseEnv([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseEnv(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseEnv(%q) error %q shows the value", tt.in, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseEnv(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseMetaData(t *testing.T) {
	tests := []struct {
		in   string
		want MetaData
	}{
		{"instance-id: i-1\nlocal-hostname: web-1\n", MetaData{"i-1", "web-1"}},
		{"instance-id: \"i-2\"\nnetwork-interfaces: |\n  iface eth0\nlocal-hostname: 'b'\n", MetaData{"i-2", "b"}},
		{`{"instance-id": "i-3", "local-hostname": "c"}`, MetaData{"i-3", "c"}},
		{"", MetaData{}},
	}
	for _, tt := range tests {
		got, err := ParseMetaData([]byte(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("ParseMetaData(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestIsEnvUserData(t *testing.T) {
	for in, want := range map[string]bool{"#tinyboot-env\nA=1": true, "#tinyboot-env": true, "#cloud-config\n": false, "": false} {
		if got := IsEnvUserData([]byte(in)); got != want {
			t.Errorf("IsEnvUserData(%q) = %v", in, got)
		}
	}
}
