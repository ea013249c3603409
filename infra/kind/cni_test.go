package kind

import (
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestCNIConfig(t *testing.T) {
	tests := []struct {
		name    string
		pods    string
		wantErr bool
	}{
		{"a node's /24", "10.244.3.0/24", false},
		{"not a CIDR", "10.244.3.0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cniConfig(tt.pods)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr {
				return
			}
			var conf struct {
				Name    string `json:"name"`
				Plugins []struct {
					Type   string `json:"type"`
					IPMasq bool   `json:"ipMasq"`
					IPAM   struct {
						Type    string `json:"type"`
						DataDir string `json:"dataDir"`
						Ranges  [][]struct {
							Subnet string `json:"subnet"`
						} `json:"ranges"`
					} `json:"ipam"`
				} `json:"plugins"`
			}
			if err := json.Unmarshal([]byte(got), &conf); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, got)
			}
			if len(conf.Plugins) != 2 || conf.Plugins[0].Type != "ptp" || conf.Plugins[1].Type != "portmap" {
				t.Fatalf("plugins %+v", conf.Plugins)
			}
			ptp := conf.Plugins[0]
			if !ptp.IPMasq || ptp.IPAM.Type != "host-local" || ptp.IPAM.Ranges[0][0].Subnet != tt.pods ||
				!strings.HasPrefix(ptp.IPAM.DataDir, "/run/") {
				t.Errorf("ptp %+v", ptp)
			}
		})
	}
}

func testNodeNet() nodeNet {
	_, subnet, _ := net.ParseCIDR("172.19.0.0/16")
	_, pods, _ := net.ParseCIDR("10.244.1.0/24")
	_, peerPods, _ := net.ParseCIDR("10.244.0.0/24")
	return nodeNet{
		Self: net.ParseIP("172.19.0.3").To4(), Subnet: subnet, Gateway: net.ParseIP("172.19.0.1"),
		PodCIDR: pods, Peers: []peer{{IP: net.ParseIP("172.19.0.2"), PodCIDR: peerPods}},
		Table: 2004, Proto: unix.RTPROT_UNSPEC,
	}
}

func TestCNIRules(t *testing.T) {
	type rule struct {
		prio, table int
		src, dst    string
	}
	var got []rule
	for _, r := range cniRules(testNodeNet()) {
		s, d := "", ""
		if r.Src != nil {
			s = r.Src.String()
		}
		if r.Dst != nil {
			d = r.Dst.String()
		}
		if r.Family != netlink.FAMILY_V4 || r.Protocol != unix.RTPROT_UNSPEC {
			t.Errorf("rule %v: family %d protocol %d", r, r.Family, r.Protocol)
		}
		got = append(got, rule{r.Priority, r.Table, s, d})
	}
	want := []rule{
		{cniLocalPriority, unix.RT_TABLE_LOCAL, "", ""}, // first: the local lookup moves to 100
		{cniToPriority, unix.RT_TABLE_MAIN, "", "172.19.0.3/32"},
		{cniToPriority, unix.RT_TABLE_MAIN, "", "10.244.1.0/24"},
		{cniFromPriority, 2004, "172.19.0.3/32", ""},
		{cniFromPriority, 2004, "10.244.1.0/24", ""},
		{cniForwardPriority, 2004, "", ""}, // the rest: unbound sources, forwarded traffic
	}
	if !slices.Equal(got, want) {
		t.Errorf("rules\n got %v\nwant %v", got, want)
	}
	// None of them is a kernel default: networkd's flush deletes them all.
	for _, r := range cniRules(testNodeNet()) {
		if r.Priority == 0 || r.Priority == 32766 || r.Priority == 32767 {
			t.Errorf("rule %v sits at a kernel default priority", r)
		}
		if !isOurRule(*r) {
			t.Errorf("rule %v is not recognised as the CNI's", r)
		}
	}
}

func TestCNIRoutes(t *testing.T) {
	got := cniRoutes(testNodeNet(), 7)
	want := []string{
		"172.19.0.0/16 src 172.19.0.3 link",
		"default via 172.19.0.1 src 172.19.0.3 onlink",
		"10.244.0.0/24 via 172.19.0.2 onlink",
	}
	if len(got) != len(want) {
		t.Fatalf("routes %v", got)
	}
	for i, r := range got {
		if r.Table != 2004 || r.LinkIndex != 7 {
			t.Errorf("route %d: table %d link %d", i, r.Table, r.LinkIndex)
		}
		var s []string
		if r.Dst == nil {
			s = append(s, "default")
		} else {
			s = append(s, r.Dst.String())
		}
		if r.Gw != nil {
			s = append(s, "via", r.Gw.String())
		}
		if r.Src != nil {
			s = append(s, "src", r.Src.String())
		}
		if r.Scope == netlink.SCOPE_LINK {
			s = append(s, "link")
		}
		if r.Flags&int(netlink.FLAG_ONLINK) != 0 {
			s = append(s, "onlink")
		}
		if line := strings.Join(s, " "); line != want[i] {
			t.Errorf("route %d = %q, want %q", i, line, want[i])
		}
	}
}
