package lab

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/aftershock-sre/aftershock/infra/topology"
)

func TestPlanPlacesControlPlanes(t *testing.T) {
	topo := topology.Uniform("t", []topology.RegionShape{{Name: "us1", Cloud: topology.AWS}, {Name: "eu1", Cloud: topology.GCP}},
		topology.ClusterShape{ParentControlPlanes: 1, ParentWorkers: 2, Children: 3, ChildWorkers: 2})
	s := plan(topo, "abc123", "/tmp/x")

	tests := []struct {
		cluster, host string
		apiPort       int
	}{
		{"us1-parent", "us1-parent-cp0", 6443},
		{"us1-app1", "us1-parent-w0", 6443},
		{"us1-app2", "us1-parent-w1", 6443},
		{"us1-app3", "us1-parent-w0", 6444}, // second control plane on w0
		{"eu1-parent", "eu1-parent-cp0", 6443},
		{"eu1-app1", "eu1-parent-w0", 6443},
	}
	for _, tt := range tests {
		t.Run(tt.cluster, func(t *testing.T) {
			c, err := s.cluster(tt.cluster)
			if err != nil {
				t.Fatal(err)
			}
			if c.HostNode != tt.host || c.APIPort != tt.apiPort {
				t.Errorf("%s on %s:%d, want %s:%d", tt.cluster, c.HostNode, c.APIPort, tt.host, tt.apiPort)
			}
			host, err := s.node(c.HostNode)
			if err != nil {
				t.Fatal(err)
			}
			if c.Address != host.Address {
				t.Errorf("API address %s, want host address %s", c.Address, host.Address)
			}
		})
	}

	// Every node gets a unique address in its region's subnet, and a unique
	// fabric veth name that fits in IFNAMSIZ.
	seenAddr, seenVeth := map[string]bool{}, map[string]bool{}
	for _, n := range s.Nodes {
		r, err := s.region(n.Region)
		if err != nil {
			t.Fatal(err)
		}
		_, subnet, _ := net.ParseCIDR(r.Subnet)
		if !subnet.Contains(net.ParseIP(n.Address)) || n.Address == r.Gateway {
			t.Errorf("%s has address %s outside %s or on the gateway", n.Name, n.Address, r.Subnet)
		}
		if seenAddr[n.Address] || seenVeth[n.FabricVeth] || len(n.FabricVeth) > 15 {
			t.Errorf("%s: address %s / veth %q reused or too long", n.Name, n.Address, n.FabricVeth)
		}
		seenAddr[n.Address], seenVeth[n.FabricVeth] = true, true
		if n.Namespace != "as-abc123-"+n.Name || n.NetNSPath != "/run/netns/"+n.Namespace {
			t.Errorf("%s: namespace %s at %s", n.Name, n.Namespace, n.NetNSPath)
		}
	}
	if len(s.Nodes) != len(topo.Nodes()) {
		t.Errorf("planned %d nodes, topology has %d", len(s.Nodes), len(topo.Nodes()))
	}
}

func TestCNIRules(t *testing.T) {
	self := &net.IPNet{IP: net.IPv4(10, 1, 0, 10).To4(), Mask: net.CIDRMask(32, 32)}
	rules := cniRules(self, 2004, 0)
	want := []string{"100 local", "20 to 10.1.0.10/32 main", "111 from 10.1.0.10/32 2004"}
	if len(rules) != len(want) {
		t.Fatalf("got %d rules, want %d", len(rules), len(want))
	}
	for i, r := range rules {
		got := describeRule(r.Priority, r.Src, r.Dst, r.Table)
		if got != want[i] {
			t.Errorf("rule %d = %q, want %q", i, got, want[i])
		}
		if isKernelDefaultRule(*r) {
			t.Errorf("rule %q counted as a kernel default", got)
		}
	}
	if !isKernelDefaultRule(*defaultLocalRule()) {
		t.Error("the priority-0 local rule is a kernel default")
	}
}

func describeRule(prio int, src, dst *net.IPNet, table int) string {
	parts := []string{strconv.Itoa(prio)}
	if src != nil {
		parts = append(parts, "from "+src.String())
	}
	if dst != nil {
		parts = append(parts, "to "+dst.String())
	}
	switch table {
	case localTable:
		parts = append(parts, "local")
	case mainTable:
		parts = append(parts, "main")
	default:
		parts = append(parts, strconv.Itoa(table))
	}
	return strings.Join(parts, " ")
}

// The Go constant and the build script's pin must name the same release.
func TestKubeVersionMatchesBuildScript(t *testing.T) {
	f, err := os.Open("../../hack/versions.env")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "KUBE_VERSION=") {
			if !strings.Contains(sc.Text(), ":-"+KubeVersion+"}") {
				t.Errorf("hack/versions.env has %q, lab.KubeVersion is %s", sc.Text(), KubeVersion)
			}
			return
		}
	}
	t.Error("hack/versions.env has no KUBE_VERSION")
}

// Run IDs become namespace and folder names: anything but a short
// lowercase word is refused before anything is created.
func TestRunIDMustBeSafe(t *testing.T) {
	topo, err := topology.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, id := range []string{"../etc", "a-b", "UPPER", "thirteenchars", "has space"} {
		if _, err := newLab(topo, Options{RunID: id, StateRoot: root, AgentCommand: []string{"x"}}); err == nil || !strings.Contains(err.Error(), "want 1 to 12 lowercase letters or digits") {
			t.Errorf("run ID %q: %v", id, err)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("refused run IDs left %d entries in the state root", len(entries))
	}
}
