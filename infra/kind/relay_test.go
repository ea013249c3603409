package kind

import (
	"strings"
	"testing"
)

func TestRelayScript(t *testing.T) {
	tests := []struct {
		name     string
		relays   []relay
		contains []string
		wantErr  string
	}{
		{"one child",
			[]relay{{Child: "eu1-app1", Port: 7443, To: "172.19.0.5"}},
			[]string{
				"sysctl -qw net.ipv4.ip_forward=1",
				"iptables -w -t nat -N AFTERSHOCK-RELAY 2>/dev/null || true",
				"iptables -w -t nat -F AFTERSHOCK-RELAY\n",
				"iptables -w -t nat -C PREROUTING -j AFTERSHOCK-RELAY 2>/dev/null || iptables -w -t nat -I PREROUTING 1 -j AFTERSHOCK-RELAY",
				`iptables -w -t nat -A AFTERSHOCK-RELAY -p tcp --dport 7443 -m comment --comment "aftershock relay eu1-app1" -j DNAT --to-destination 172.19.0.5:6443`,
				`iptables -w -t nat -A AFTERSHOCK-RELAY-POST -p tcp -d 172.19.0.5 --dport 6443 -m comment --comment "aftershock relay eu1-app1" -j MASQUERADE`,
			}, ""},
		{"two children on one host",
			[]relay{{Child: "a", Port: 7443, To: "172.19.0.5"}, {Child: "b", Port: 7444, To: "172.19.0.6"}},
			[]string{"--dport 7443", "--dport 7444", "--to-destination 172.19.0.6:6443"}, ""},
		{"no children still flushes the chains", nil, []string{"-F AFTERSHOCK-RELAY-POST"}, ""},
		{"not an address", []relay{{Child: "a", Port: 7443, To: "app1-control-plane"}}, nil, "not an IPv4 address"},
		{"bad port", []relay{{Child: "a", Port: 0, To: "172.19.0.5"}}, nil, "port 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := relayScript(tt.relays)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got, "set -e\n") {
				t.Errorf("script does not stop on errors:\n%s", got)
			}
			for _, s := range tt.contains {
				if !strings.Contains(got, s) {
					t.Errorf("script lacks %q:\n%s", s, got)
				}
			}
		})
	}
}

func TestKubeletThroughRelay(t *testing.T) {
	server := relayEndpoint("as-r1-eu1-parent-worker", 7443)
	if server != "https://as-r1-eu1-parent-worker:7443" {
		t.Fatalf("endpoint %q", server)
	}
	got := kubeletThroughRelayScript(server)
	for _, s := range []string{
		`sed -i 's#^\([[:space:]]*server:\).*#\1 https://as-r1-eu1-parent-worker:7443#' /etc/kubernetes/kubelet.conf`,
		"systemctl restart kubelet",
	} {
		if !strings.Contains(got, s) {
			t.Errorf("script lacks %q:\n%s", s, got)
		}
	}
}
