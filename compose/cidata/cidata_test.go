package cidata

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/agent/blkid"
	"github.com/tinyboot/tinyboot/agent/instance"
	"github.com/tinyboot/tinyboot/compose/iso"
)

// TestWriteReadsBack: the drive carries the cidata label the agent looks
// for, and meta-data and user-data parse back to what went in.
func TestWriteReadsBack(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		wantEnv  map[string]string
		wantMeta instance.MetaData
	}{
		{"hostname and id", Options{Env: []byte("DB_PASSWORD=hunter2\nGREETING=hi\n"), InstanceID: "i-1", Hostname: "web-1"},
			map[string]string{"DB_PASSWORD": "hunter2", "GREETING": "hi"}, instance.MetaData{InstanceID: "i-1", LocalHostname: "web-1"}},
		{"header kept, id derived", Options{Env: []byte("#tinyboot-env\nA=1\n")},
			map[string]string{"A": "1"}, instance.MetaData{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "seed.iso")
			if err := Write(out, tt.opts); err != nil {
				t.Fatal(err)
			}
			info, err := blkid.ProbeFile(out)
			if err != nil || info.Type != blkid.ISO9660 || !strings.EqualFold(info.Label, instance.Label) {
				t.Fatalf("probe: %+v, %v; want iso9660 labelled cidata", info, err)
			}
			im, err := iso.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			user, err := im.ReadFile("/user-data")
			if err != nil {
				t.Fatal(err)
			}
			if !instance.IsEnvUserData(user) {
				t.Errorf("user-data %q lacks the %s header", user, instance.EnvHeader)
			}
			env, err := instance.ParseEnv(user)
			if err != nil || len(env) != len(tt.wantEnv) {
				t.Fatalf("user-data env %v, %v; want %v", env, err, tt.wantEnv)
			}
			for k, v := range tt.wantEnv {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			meta, err := im.ReadFile("/meta-data")
			if err != nil {
				t.Fatal(err)
			}
			md, err := instance.ParseMetaData(meta)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantMeta.InstanceID == "" {
				if !strings.HasPrefix(md.InstanceID, "tinyboot-") {
					t.Errorf("derived instance-id %q", md.InstanceID)
				}
				md.InstanceID = ""
			}
			if md != tt.wantMeta {
				t.Errorf("meta-data %+v, want %+v", md, tt.wantMeta)
			}
		})
	}
}

func TestWriteRefusesBadEnv(t *testing.T) {
	out := filepath.Join(t.TempDir(), "seed.iso")
	err := Write(out, Options{Env: []byte("A=1\nhunter2\n")})
	if err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Write = %v, want a line 2 error without the value", err)
	}
	if _, serr := os.Stat(out); serr == nil {
		t.Error("a drive was written despite the error")
	}
}
