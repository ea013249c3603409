package agent

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestArgsRoundTrip(t *testing.T) {
	cfg := Config{
		Server:         "https://10.1.0.11:6443",
		CAFile:         "/tmp/ca.crt",
		CertFile:       "/tmp/admin.crt",
		KeyFile:        "/tmp/admin.key",
		NodeName:       "us1-app1-w0",
		Address:        "10.1.0.12",
		Labels:         map[string]string{"topology.kubernetes.io/region": "us1", "node-role.kubernetes.io/control-plane": ""},
		Heartbeat:      500 * time.Millisecond,
		KubeletVersion: "v1.36.3",
	}
	got, err := ParseArgs(cfg.Args())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cfg) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, cfg)
	}
}

func TestParseArgsRejects(t *testing.T) {
	creds := []string{"--server=https://10.0.0.1:6443", "--ca=ca", "--cert=c", "--key=k"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no server", []string{"--node=n", "--address=10.0.0.1"}, "is not an https URL"},
		{"http server", append([]string{"--server=http://10.0.0.1:6443"}, creds[1:]...), "is not an https URL"},
		{"no credentials", []string{"--server=https://10.0.0.1:6443", "--node=n", "--address=10.0.0.1"}, "--ca, --cert and --key are required"},
		{"no node", append(creds, "--address=10.0.0.1"), "--node is required"},
		{"bad address", append(creds, "--node=n", "--address=nope"), `"nope" is not an IP`},
		{"bad label", append(creds, "--node=n", "--address=10.0.0.1", "--labels=a"), `label "a" is not k=v`},
		{"zero heartbeat", append(creds, "--node=n", "--address=10.0.0.1", "--heartbeat=0s"), "must be positive"},
		{"unknown flag", []string{"--bogus"}, "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseArgs(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseArgs(%v) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}
