package kind

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

func TestNames(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"cluster", ClusterName("r1", "eu1-parent"), "as-r1-eu1-parent"},
		{"network", NetworkName("r1", "eu1"), "as-r1-eu1"},
		{"first control plane", ContainerName("as-r1-eu1-parent", v1alpha4.ControlPlaneRole, 0), "as-r1-eu1-parent-control-plane"},
		{"second control plane", ContainerName("as-r1-eu1-parent", v1alpha4.ControlPlaneRole, 1), "as-r1-eu1-parent-control-plane2"},
		{"first worker", ContainerName("as-r1-eu1-app1", v1alpha4.WorkerRole, 0), "as-r1-eu1-app1-worker"},
		{"third worker", ContainerName("as-r1-eu1-app1", v1alpha4.WorkerRole, 2), "as-r1-eu1-app1-worker3"},
		{"hosted control plane", HostedControlPlaneName("eu1-app1"), "eu1-app1-control-plane"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestOwnedClusters(t *testing.T) {
	all := []string{
		"kind",                  // the user's own cluster
		"as-r1-eu1-parent",      // ours
		"as-r1-eu1-app1",        // ours
		"as-r12-eu1-parent",     // another run whose ID starts like ours
		"as-r1",                 // not a cluster of the run: no suffix
		"as-r1-",                // prefix only
		"xas-r1-eu1-parent",     // prefix not at the start
		"as-other-eu1-parent",   // another run
		"AS-R1-EU1-PARENT",      // kind names are lowercase; not ours
		"as-r1-us1-parent.test", // ours (kind allows dots)
	}
	tests := []struct {
		name  string
		run   string
		names []string
		want  []string
	}{
		{"only the run's clusters", "r1", all, []string{"as-r1-eu1-app1", "as-r1-eu1-parent", "as-r1-us1-parent.test"}},
		{"a longer run ID is a different run", "r12", all, []string{"as-r12-eu1-parent"}},
		{"no cluster of the run", "zz", all, nil},
		{"an invalid run ID matches nothing", "", all, nil},
		{"a run ID with a dash matches nothing", "r1-eu1", all, nil},
		{"nothing listed", "r1", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := OwnedClusters(tt.names, tt.run)
			if !slices.Equal(got, tt.want) {
				t.Errorf("OwnedClusters(%q) = %q, want %q", tt.run, got, tt.want)
			}
		})
	}
}

func TestOwnedNetworks(t *testing.T) {
	tests := []struct {
		name     string
		run      string
		labelled []string
		want     []string
	}{
		{"labelled and prefixed", "r1", []string{"as-r1-eu1", "as-r1-us1"}, []string{"as-r1-eu1", "as-r1-us1"}},
		{"labelled but not prefixed is left alone", "r1", []string{"kind", "bridge"}, nil},
		{"invalid run", "R1", []string{"as-R1-eu1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OwnedNetworks(tt.labelled, tt.run); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRunsOf(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{"clusters and networks of two runs", []string{"as-r2-eu1-parent", "as-r1-eu1", "as-r1-eu1-app1", "as-r2-eu1"}, []string{"r1", "r2"}},
		{"other tools' clusters are not runs", []string{"kind", "as-", "as-r1", "as-r1-", "as-R1-eu1", "dev-as-r1-eu1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RunsOf(tt.names); !slices.Equal(got, tt.want) {
				t.Errorf("RunsOf(%q) = %q, want %q", tt.names, got, tt.want)
			}
		})
	}
}

func TestTimingFor(t *testing.T) {
	tests := []struct {
		name string
		in   topology.Timing
		want Timing
	}{
		{"lab timings are raised to kind's floors",
			topology.Timing{Heartbeat: time.Second, NodeMonitorGracePeriod: 4 * time.Second},
			Timing{Heartbeat: MinHeartbeat, NodeMonitorGracePeriod: MinNodeMonitorGracePeriod}},
		{"slower timings are kept",
			topology.Timing{Heartbeat: 5 * time.Second, NodeMonitorGracePeriod: 40 * time.Second},
			Timing{Heartbeat: 5 * time.Second, NodeMonitorGracePeriod: 40 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TimingFor(tt.in); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func preset(t *testing.T, name string) topology.Topology {
	t.Helper()
	topo, err := topology.Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return topo.WithDefaults()
}

func TestPlanTiny(t *testing.T) {
	p, err := newPlan(preset(t, "tiny"), "r1")
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ cluster, kind, node, container, role, pods string }
	var got []row
	for _, c := range p.Clusters {
		for _, n := range c.Nodes {
			got = append(got, row{c.Name, c.KindName, n.Name, n.Container, string(n.KindRole), n.PodCIDR})
		}
	}
	want := []row{
		{"eu1-parent", "as-r1-eu1-parent", "eu1-parent-cp0", "as-r1-eu1-parent-control-plane", "control-plane", "10.244.0.0/24"},
		{"eu1-parent", "as-r1-eu1-parent", "eu1-parent-w0", "as-r1-eu1-parent-worker", "worker", "10.244.1.0/24"},
		{"eu1-app1", "as-r1-eu1-app1", "eu1-app1-control-plane", "as-r1-eu1-app1-control-plane", "control-plane", "10.244.0.0/24"},
		{"eu1-app1", "as-r1-eu1-app1", "eu1-app1-w0", "as-r1-eu1-app1-worker", "worker", "10.244.1.0/24"},
		{"eu1-app1", "as-r1-eu1-app1", "eu1-app1-w1", "as-r1-eu1-app1-worker2", "worker", "10.244.2.0/24"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("plan:\n got %v\nwant %v", got, want)
	}
	child := p.cluster("eu1-app1")
	if child.Host == nil || child.Host.Name != "eu1-parent-w0" || child.RelayPort != FirstRelayPort {
		t.Errorf("child host = %+v port %d, want eu1-parent-w0:%d", child.Host, child.RelayPort, FirstRelayPort)
	}
	if p.cluster("eu1-parent").Host != nil {
		t.Error("a parent cluster has a host")
	}
	if got := p.hostedBy("eu1-parent-w0"); len(got) != 1 || got[0].Name != "eu1-app1" {
		t.Errorf("hostedBy(eu1-parent-w0) = %v", got)
	}
	if p.Regions[0].Network != "as-r1-eu1" {
		t.Errorf("network = %q", p.Regions[0].Network)
	}
}

func TestPlanHostsChildrenRoundRobin(t *testing.T) {
	// two-regions: each parent has 2 workers and hosts 2 children.
	p, err := newPlan(preset(t, "two-regions"), "r1")
	if err != nil {
		t.Fatal(err)
	}
	type host struct {
		node string
		port int
	}
	got := map[string]host{}
	for _, c := range p.Clusters {
		if c.Host != nil {
			got[c.Name] = host{c.Host.Name, c.RelayPort}
		}
	}
	want := map[string]host{
		"us1-app1": {"us1-parent-w0", FirstRelayPort},
		"us1-app2": {"us1-parent-w1", FirstRelayPort},
		"eu1-app1": {"eu1-parent-w0", FirstRelayPort},
		"eu1-app2": {"eu1-parent-w1", FirstRelayPort},
	}
	if len(got) != len(want) {
		t.Fatalf("hosts = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s hosted on %v, want %v", k, got[k], v)
		}
	}
}

func TestPlanRelayPortsOnASharedHost(t *testing.T) {
	topo := topology.Uniform("shared", []topology.RegionShape{{Name: "eu1", Cloud: topology.GCP}},
		topology.ClusterShape{ParentControlPlanes: 1, ParentWorkers: 1, Children: 3, ChildWorkers: 1}).WithDefaults()
	p, err := newPlan(topo, "r1")
	if err != nil {
		t.Fatal(err)
	}
	var ports []int
	for _, c := range p.Clusters {
		if c.Host != nil {
			if c.Host.Name != "eu1-parent-w0" {
				t.Errorf("%s hosted on %s", c.Name, c.Host.Name)
			}
			ports = append(ports, c.RelayPort)
		}
	}
	if want := []int{FirstRelayPort, FirstRelayPort + 1, FirstRelayPort + 2}; !slices.Equal(ports, want) {
		t.Errorf("relay ports %v, want %v", ports, want)
	}
}

func TestPlanErrors(t *testing.T) {
	uniform := func(shape topology.ClusterShape) topology.Topology {
		return topology.Uniform("t", []topology.RegionShape{{Name: "eu1", Cloud: topology.GCP}}, shape).WithDefaults()
	}
	long := uniform(topology.ClusterShape{ParentControlPlanes: 1, ParentWorkers: 1})
	long.Regions[0].Clusters[0].Name = strings.Repeat("x", 50)
	big := uniform(topology.ClusterShape{ParentControlPlanes: 1, ParentWorkers: 300})
	tests := []struct {
		name string
		topo topology.Topology
		run  string
		want string
	}{
		{"bad run ID", uniform(topology.ClusterShape{ParentControlPlanes: 1}), "Run-1", "run ID"},
		{"two control planes need a load balancer", uniform(topology.ClusterShape{ParentControlPlanes: 2, ParentWorkers: 1}), "r1", "exactly 1"},
		{"container names over 63 characters", long, "r1", "at most 63"},
		{"more nodes than pod ranges", big, "r1", "at most 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newPlan(tt.topo, tt.run)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestNodeLabels(t *testing.T) {
	p, err := newPlan(preset(t, "tiny"), "r1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		node string
		want map[string]string
	}{
		{"eu1-parent-cp0", map[string]string{
			infra.LabelRegion: "eu1", infra.LabelCloud: "gcp", infra.LabelCluster: "eu1-parent",
			infra.LabelClusterRole: "parent", infra.LabelNodeRole: "control-plane"}},
		{"eu1-parent-w0", map[string]string{
			infra.LabelRegion: "eu1", infra.LabelCloud: "gcp", infra.LabelCluster: "eu1-parent",
			infra.LabelClusterRole: "parent", infra.LabelNodeRole: "worker"}},
		{"eu1-app1-control-plane", map[string]string{
			infra.LabelRegion: "eu1", infra.LabelCloud: "gcp", infra.LabelCluster: "eu1-app1",
			infra.LabelClusterRole: "child", infra.LabelNodeRole: "control-plane", infra.LabelHostedOn: "eu1-parent-w0"}},
		{"eu1-app1-w1", map[string]string{
			infra.LabelRegion: "eu1", infra.LabelCloud: "gcp", infra.LabelCluster: "eu1-app1",
			infra.LabelClusterRole: "child", infra.LabelNodeRole: "worker"}},
	}
	for _, tt := range tests {
		t.Run(tt.node, func(t *testing.T) {
			_, n := p.node(tt.node)
			if n == nil {
				t.Fatalf("no node %s", tt.node)
			}
			if len(n.Labels) != len(tt.want) {
				t.Errorf("labels %v, want %v", n.Labels, tt.want)
			}
			for k, v := range tt.want {
				if n.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, n.Labels[k], v)
				}
			}
			// The kubelet may not label itself node-role.kubernetes.io/*.
			for k := range n.Labels {
				if strings.HasPrefix(k, "node-role.kubernetes.io/") {
					t.Errorf("label %s would make the kubelet refuse to start", k)
				}
			}
		})
	}
}

func TestKindConfig(t *testing.T) {
	p, err := newPlan(preset(t, "tiny"), "r1")
	if err != nil {
		t.Fatal(err)
	}
	opts := ConfigOptions{NodeImage: "img:1", CgroupV1: true, Timing: Timing{Heartbeat: 2 * time.Second, NodeMonitorGracePeriod: 20 * time.Second}}
	tests := []struct {
		cluster   string
		roles     []v1alpha4.NodeRole
		names     []string
		contains  []string // in the cluster-level patches
		notInside []string
	}{
		{"eu1-parent",
			[]v1alpha4.NodeRole{v1alpha4.ControlPlaneRole, v1alpha4.WorkerRole},
			[]string{"eu1-parent-cp0", "eu1-parent-w0"},
			[]string{"failCgroupV1: false", "nodeStatusUpdateFrequency: 2s", "nodeLeaseDurationSeconds: 8",
				"node-monitor-grace-period", `value: "20s"`, "node-monitor-period", `value: "1s"`, "enable-hostpath-provisioner"},
			[]string{"certSANs"}},
		{"eu1-app1",
			[]v1alpha4.NodeRole{v1alpha4.ControlPlaneRole, v1alpha4.WorkerRole, v1alpha4.WorkerRole},
			[]string{"eu1-app1-control-plane", "eu1-app1-w0", "eu1-app1-w1"},
			[]string{`certSANs: [localhost, 127.0.0.1, "as-r1-eu1-parent-worker"]`, "failCgroupV1: false"},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.cluster, func(t *testing.T) {
			cfg := p.cluster(tt.cluster).kindConfig(opts)
			if cfg.Name != ClusterName("r1", tt.cluster) {
				t.Errorf("name %q", cfg.Name)
			}
			if !cfg.Networking.DisableDefaultCNI || cfg.Networking.PodSubnet != PodSubnet || cfg.Networking.IPFamily != v1alpha4.IPv4Family {
				t.Errorf("networking %+v", cfg.Networking)
			}
			var roles []v1alpha4.NodeRole
			for i, n := range cfg.Nodes {
				roles = append(roles, n.Role)
				if n.Image != "img:1" {
					t.Errorf("node %d image %q", i, n.Image)
				}
				patches := strings.Join(n.KubeadmConfigPatches, "---\n")
				for _, kind := range []string{"InitConfiguration", "JoinConfiguration"} {
					if !strings.Contains(patches, "kind: "+kind+"\nnodeRegistration:\n  name: \""+tt.names[i]+"\"") {
						t.Errorf("node %d: no %s patch naming %s in %q", i, kind, tt.names[i], patches)
					}
				}
			}
			if !slices.Equal(roles, tt.roles) {
				t.Errorf("roles %v, want %v", roles, tt.roles)
			}
			all := strings.Join(cfg.KubeadmConfigPatches, "---\n")
			for _, s := range tt.contains {
				if !strings.Contains(all, s) {
					t.Errorf("patches lack %q:\n%s", s, all)
				}
			}
			for _, s := range tt.notInside {
				if strings.Contains(all, s) {
					t.Errorf("patches contain %q:\n%s", s, all)
				}
			}
			// Every patch must be valid YAML with a kind, or kind rejects it.
			for _, patch := range append(slices.Clone(cfg.KubeadmConfigPatches), cfg.Nodes[0].KubeadmConfigPatches...) {
				var doc map[string]any
				if err := yaml.Unmarshal([]byte(patch), &doc); err != nil || doc["kind"] == nil {
					t.Errorf("patch %q: %v (kind %v)", patch, err, doc["kind"])
				}
			}
		})
	}
	t.Run("cgroup v2 host", func(t *testing.T) {
		o := opts
		o.CgroupV1 = false
		cfg := p.cluster("eu1-parent").kindConfig(o)
		if strings.Contains(strings.Join(cfg.KubeadmConfigPatches, ""), "failCgroupV1") {
			t.Error("failCgroupV1 set on a cgroup v2 host")
		}
	})
}

func TestCheckInotify(t *testing.T) {
	tests := []struct {
		name         string
		limit, nodes int
		wantErr      bool
	}{
		{"the kind test fleet fits Linux's default", 128, 4, false},
		{"tiny fits the default", 128, 5, false},
		{"two-regions does not", 128, 22, true},
		{"two-regions fits kind's recommended 512", 512, 22, false},
		{"exactly enough", inotifyNeeded(10), 10, false},
		{"one short", inotifyNeeded(10) - 1, 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkInotify(tt.limit, tt.nodes)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && (!errors.Is(err, ErrHostLimit) || !strings.Contains(err.Error(), "sysctl -w fs.inotify.max_user_instances=")) {
				t.Errorf("error does not give the remedy: %v", err)
			}
		})
	}
}

func TestContainerCount(t *testing.T) {
	tests := []struct {
		preset string
		want   int
	}{
		{"tiny", 5},           // parent 1+1, child hosted control plane + 2
		{"two-regions", 22},   // per region: parent 1+2, 2 children of 1+3
		{"three-regions", 54}, // per region: parent 1+3, 2 children of 1+6
	}
	for _, tt := range tests {
		t.Run(tt.preset, func(t *testing.T) {
			p, err := newPlan(preset(t, tt.preset), "r1")
			if err != nil {
				t.Fatal(err)
			}
			if got := p.containerCount(); got != tt.want {
				t.Errorf("containers = %d, want %d", got, tt.want)
			}
		})
	}
}
