package agent

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tinyboot/tinyboot/agent/instance"
)

// TestInstanceEnv: the machine's own env reaches the app over app.env,
// its hostname replaces the baked one, and the log names variables but
// never shows a value.
func TestInstanceEnv(t *testing.T) {
	const secret = "s3cr3t-value-7f1e"
	tests := []struct {
		name     string
		data     instance.Data
		err      error
		wantEnv  string
		wantLogs []string
	}{
		{
			name: "nocloud and fw_cfg",
			data: func() instance.Data {
				var d instance.Data
				d.InstanceID, d.Hostname = "i-42", "node-7"
				d.Add("nocloud /dev/sr1", map[string]string{"GREETING": "override", "DB_PASSWORD": secret})
				d.Add("fw_cfg opt/tinyboot/env", map[string]string{"API_TOKEN": secret})
				return d
			}(),
			wantEnv: "start /bin/hello -v API_TOKEN=" + secret + " DB_PASSWORD=" + secret + " GREETING=override HOME=/root LOGNAME=root PATH=",
			wantLogs: []string{
				"instance: id i-42",
				"instance: hostname node-7",
				"instance: env from nocloud /dev/sr1: DB_PASSWORD GREETING",
				"instance: env from fw_cfg opt/tinyboot/env: API_TOKEN",
			},
		},
		{
			name:     "unreadable source",
			err:      errors.New("fw_cfg opt/tinyboot/env: line 3: want KEY=VALUE"),
			wantEnv:  "start /bin/hello -v GREETING=hi HOME=/root LOGNAME=root PATH=",
			wantLogs: []string{"instance: fw_cfg opt/tinyboot/env: line 3: want KEY=VALUE"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := disks()
			sys.procs = []proc{{exit: exit(0)}}
			h := newHarness(sys)
			h.deps.Instance = func(context.Context) (instance.Data, error) { return tt.data, tt.err }
			h.run(t, config())
			var start string
			for _, c := range sys.Calls() {
				if strings.HasPrefix(c, "start ") {
					start = c
				}
			}
			if !strings.HasPrefix(start, tt.wantEnv) {
				t.Errorf("app started as %q, want it to begin %q", start, tt.wantEnv)
			}
			has(t, "console", h.out.Lines(), tt.wantLogs)
			if tt.data.Hostname != "" {
				has(t, "calls", sys.Calls(), []string{"hostname hello", "hostname " + tt.data.Hostname})
				// /etc/hosts is written again for the machine's own name.
				var hosts string
				for _, c := range sys.Calls() {
					if strings.HasPrefix(c, "write /etc/hosts ") {
						hosts = c
					}
				}
				if !strings.Contains(hosts, tt.data.Hostname) {
					t.Errorf("last /etc/hosts write %q lacks the instance hostname %s", hosts, tt.data.Hostname)
				}
			}
			for _, l := range h.out.Lines() {
				if strings.Contains(l, secret) {
					t.Errorf("console line %q shows a secret value", l)
				}
			}
		})
	}
}
