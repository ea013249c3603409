package kind

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// Names and labels the provider stamps on what it creates.
const (
	// ClusterPrefix starts the name of every kind cluster and Docker network
	// the provider creates: as-<run>-<cluster>, as-<run>-<region>.
	ClusterPrefix = "as-"
	// LabelRun marks the Docker networks of a run (kind labels its own
	// containers with io.x-k8s.kind.cluster).
	LabelRun = "aftershock.io/run"
	// kindClusterLabel is the label kind puts on every node container.
	kindClusterLabel = "io.x-k8s.kind.cluster"

	// PodSubnet is every cluster's pod network; node k (in kind config
	// order) gets the k-th /24 of it.
	PodSubnet = "10.244.0.0/16"
	// FirstRelayPort is the port a parent node relays its first hosted child
	// API server on; the next child on the same node gets the next port.
	FirstRelayPort = 7443
	// apiServerPort is where kubeadm's API server listens in a node.
	apiServerPort = 6443
	// maxNodesPerCluster is how many /24 pod ranges PodSubnet holds.
	maxNodesPerCluster = 256
	// maxHostname is the longest hostname Linux and Kubernetes accept.
	maxHostname = 63
)

// validRunID matches run IDs: they become part of cluster, container and
// network names, and the prefix "as-<run>-" must stay unambiguous.
var validRunID = regexp.MustCompile(`^[a-z0-9]{1,12}$`)

// validKindName is what kind accepts as a cluster name.
var validKindName = regexp.MustCompile(`^[a-z0-9.-]+$`)

// RunPrefix is the name prefix of every kind cluster and network of a run.
func RunPrefix(runID string) string { return ClusterPrefix + runID + "-" }

// ClusterName is the kind cluster name of a topology cluster in a run.
func ClusterName(runID, cluster string) string { return RunPrefix(runID) + cluster }

// NetworkName is the Docker network of a topology region in a run.
func NetworkName(runID, region string) string { return RunPrefix(runID) + region }

// ContainerName is the node container kind creates for the i-th (0-based)
// node of a role in a kind cluster: kind names them <cluster>-control-plane,
// <cluster>-control-plane2, …, <cluster>-worker, <cluster>-worker2, ….
func ContainerName(kindCluster string, role v1alpha4.NodeRole, i int) string {
	name := kindCluster + "-" + string(role)
	if i > 0 {
		name += fmt.Sprint(i + 1)
	}
	return name
}

// OwnedClusters returns the kind clusters, among all, that run runID
// created: exactly those named as-<run>-<something>. Nothing else is ever
// deleted.
func OwnedClusters(all []string, runID string) []string {
	if !validRunID.MatchString(runID) {
		return nil
	}
	prefix := RunPrefix(runID)
	var out []string
	for _, name := range all {
		if strings.HasPrefix(name, prefix) && len(name) > len(prefix) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Timing is how fast a kind fleet's kubelets heartbeat and how long the node
// lifecycle controller waits before it marks a silent node NotReady. Real
// kubelets cannot keep the lab's sub-second pace, so the topology's timings
// are raised to these floors: a lease renewed every 2 s, and a grace of four
// missed renewals, checked every second, so that a cut node is NotReady
// within about 9 s, as the flagship's "within 20 seconds" needs.
type Timing struct {
	Heartbeat              time.Duration
	NodeMonitorGracePeriod time.Duration
}

// Floors under the topology's timings on kind.
const (
	MinHeartbeat              = 2 * time.Second
	MinNodeMonitorGracePeriod = 8 * time.Second
	// NodeMonitorPeriod is how often the node lifecycle controller checks
	// heartbeats (Kubernetes' default is 5 s).
	NodeMonitorPeriod = 1 * time.Second
)

// TimingFor raises the topology's timings to kind's floors.
func TimingFor(t topology.Timing) Timing {
	return Timing{
		Heartbeat:              max(t.Heartbeat, MinHeartbeat),
		NodeMonitorGracePeriod: max(t.NodeMonitorGracePeriod, MinNodeMonitorGracePeriod),
	}
}

// plan is everything the provider decides before it creates anything.
type plan struct {
	RunID    string
	Topology topology.Topology
	Regions  []regionPlan
	Clusters []clusterPlan
}

type regionPlan struct {
	Name    string
	Network string
}

// clusterPlan is one kind cluster.
type clusterPlan struct {
	Name     string // topology name
	KindName string
	Region   string
	Network  string
	Role     topology.ClusterRole
	// Nodes are in kind config order: control planes, then workers. A
	// child's first node is its hosted control plane.
	Nodes []nodePlan
	// For children: the parent node that hosts (relays) the control plane,
	// and the port it relays on.
	Host      *nodePlan
	RelayPort int
}

// nodePlan is one node container.
type nodePlan struct {
	// Name is the Kubernetes Node name: the topology node's name, or
	// "<child>-control-plane" for a child's hosted control plane.
	Name      string
	Container string
	Cluster   string // topology cluster
	KindRole  v1alpha4.NodeRole
	Labels    map[string]string
	PodCIDR   string
	// Topo is the topology node; nil for a child's hosted control plane,
	// which the topology places on a parent worker rather than listing.
	Topo *topology.Node
}

// containerCount is how many node containers the plan creates.
func (p *plan) containerCount() int {
	n := 0
	for _, c := range p.Clusters {
		n += len(c.Nodes)
	}
	return n
}

// HostedControlPlaneName is the Node name of a child cluster's control plane.
func HostedControlPlaneName(child string) string { return child + "-control-plane" }

// podCIDR is the k-th /24 of PodSubnet.
func podCIDR(k int) string {
	_, sub, _ := net.ParseCIDR(PodSubnet)
	ip := sub.IP.To4()
	return fmt.Sprintf("%d.%d.%d.0/24", ip[0], ip[1], k)
}

// nodeLabels are the labels a node registers with. The kubelet may not set
// node-role.kubernetes.io/* on itself; kubeadm puts the control-plane one on.
func nodeLabels(n topology.Node) map[string]string {
	labels := infra.NodeLabels(n)
	delete(labels, infra.LabelControlPlane)
	return labels
}

// newPlan lays out names, roles, labels, pod ranges and control-plane
// placement for topo. It creates nothing.
func newPlan(topo topology.Topology, runID string) (*plan, error) {
	if !validRunID.MatchString(runID) {
		return nil, fmt.Errorf("run ID %q: want 1 to 12 lowercase letters or digits", runID)
	}
	p := &plan{RunID: runID, Topology: topo}
	var errs []error
	for _, r := range topo.Regions {
		p.Regions = append(p.Regions, regionPlan{Name: r.Name, Network: NetworkName(runID, r.Name)})
		nextWorker := map[string]int{} // parent -> next worker to host a child
		slots := map[string]int{}      // host container -> relay ports used
		for _, c := range r.Clusters {
			cp := clusterPlan{
				Name:     c.Name,
				KindName: ClusterName(runID, c.Name),
				Region:   r.Name,
				Network:  NetworkName(runID, r.Name),
				Role:     c.Role,
			}
			if !validKindName.MatchString(cp.KindName) {
				errs = append(errs, fmt.Errorf("cluster %s: kind cluster name %q must match %s", c.Name, cp.KindName, validKindName))
				continue
			}
			if c.Role == topology.Child {
				cp.Nodes = append(cp.Nodes, nodePlan{
					Name:      HostedControlPlaneName(c.Name),
					Container: ContainerName(cp.KindName, v1alpha4.ControlPlaneRole, 0),
					Cluster:   c.Name,
					KindRole:  v1alpha4.ControlPlaneRole,
					Labels: nodeLabels(topology.Node{
						Region: r.Name, Cloud: r.Cloud, Cluster: c.Name,
						ClusterRole: topology.Child, Role: topology.ControlPlane,
					}),
				})
			}
			counts := map[v1alpha4.NodeRole]int{}
			if c.Role == topology.Child {
				counts[v1alpha4.ControlPlaneRole] = 1
			}
			for _, n := range c.Nodes(r) {
				role := v1alpha4.WorkerRole
				if n.Role == topology.ControlPlane {
					role = v1alpha4.ControlPlaneRole
				}
				tn := n
				cp.Nodes = append(cp.Nodes, nodePlan{
					Name:      n.Name,
					Container: ContainerName(cp.KindName, role, counts[role]),
					Cluster:   c.Name,
					KindRole:  role,
					Labels:    nodeLabels(n),
					Topo:      &tn,
				})
				counts[role]++
			}
			if len(cp.Nodes) > maxNodesPerCluster {
				errs = append(errs, fmt.Errorf("cluster %s has %d nodes; kind clusters here hold at most %d (one /24 of %s each)",
					c.Name, len(cp.Nodes), maxNodesPerCluster, PodSubnet))
				continue
			}
			if n := counts[v1alpha4.ControlPlaneRole]; n != 1 {
				errs = append(errs, fmt.Errorf("cluster %s has %d control-plane nodes; on kind each cluster needs exactly 1 "+
					"(more would need kind's load-balancer image, which no registry can provide here)", c.Name, n))
				continue
			}
			for k := range cp.Nodes {
				cp.Nodes[k].PodCIDR = podCIDR(k)
				if l := len(cp.Nodes[k].Container); l > maxHostname {
					errs = append(errs, fmt.Errorf("node %s: container name %q is %d characters (at most %d): use shorter cluster names or run ID",
						cp.Nodes[k].Name, cp.Nodes[k].Container, l, maxHostname))
				}
			}
			p.Clusters = append(p.Clusters, cp)
		}
		// Children are hosted round-robin on their parent's workers.
		for i := range p.Clusters {
			child := &p.Clusters[i]
			if child.Region != r.Name || child.Role != topology.Child {
				continue
			}
			tc := findCluster(r, child.Name)
			parent := p.cluster(tc.Parent)
			if parent == nil {
				errs = append(errs, fmt.Errorf("cluster %s: parent %q is not in region %s", child.Name, tc.Parent, r.Name))
				continue
			}
			var workers []*nodePlan
			for k := range parent.Nodes {
				if parent.Nodes[k].KindRole == v1alpha4.WorkerRole {
					workers = append(workers, &parent.Nodes[k])
				}
			}
			if len(workers) == 0 {
				errs = append(errs, fmt.Errorf("cluster %s: parent %s has no worker to host its control plane", child.Name, parent.Name))
				continue
			}
			host := workers[nextWorker[parent.Name]%len(workers)]
			nextWorker[parent.Name]++
			child.Host = host
			child.RelayPort = FirstRelayPort + slots[host.Container]
			slots[host.Container]++
			child.Nodes[0].Labels[infra.LabelHostedOn] = host.Name
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("plan kind fleet for %s: %w", topo.Name, errors.Join(errs...))
	}
	return p, nil
}

func findCluster(r topology.Region, name string) topology.Cluster {
	for _, c := range r.Clusters {
		if c.Name == name {
			return c
		}
	}
	return topology.Cluster{}
}

func (p *plan) cluster(name string) *clusterPlan {
	for i := range p.Clusters {
		if p.Clusters[i].Name == name {
			return &p.Clusters[i]
		}
	}
	return nil
}

// region finds a region by name.
func (p *plan) region(name string) *regionPlan {
	for i := range p.Regions {
		if p.Regions[i].Name == name {
			return &p.Regions[i]
		}
	}
	return nil
}

// node finds a node by Kubernetes name.
func (p *plan) node(name string) (*clusterPlan, *nodePlan) {
	for i := range p.Clusters {
		for k := range p.Clusters[i].Nodes {
			if p.Clusters[i].Nodes[k].Name == name {
				return &p.Clusters[i], &p.Clusters[i].Nodes[k]
			}
		}
	}
	return nil, nil
}

// hostedBy lists the child clusters whose control plane the node relays.
func (p *plan) hostedBy(node string) []*clusterPlan {
	var out []*clusterPlan
	for i := range p.Clusters {
		if h := p.Clusters[i].Host; h != nil && h.Name == node {
			out = append(out, &p.Clusters[i])
		}
	}
	return out
}

// ConfigOptions are the host-dependent parts of a kind config.
type ConfigOptions struct {
	// NodeImage is the image of every node container.
	NodeImage string
	// CgroupV1 is true on a cgroup v1 host: kubelet ≥ 1.35 refuses to start
	// there unless failCgroupV1 is false.
	CgroupV1 bool
	Timing   Timing
}

// kindConfig is the v1alpha4 config of one cluster.
func (cp *clusterPlan) kindConfig(o ConfigOptions) *v1alpha4.Cluster {
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     cp.KindName,
		Networking: v1alpha4.Networking{
			IPFamily:          v1alpha4.IPv4Family,
			PodSubnet:         PodSubnet,
			DisableDefaultCNI: true,
		},
		KubeadmConfigPatches: clusterPatches(cp, o),
	}
	for _, n := range cp.Nodes {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{
			Role:                 n.KindRole,
			Image:                o.NodeImage,
			Labels:               maps.Clone(n.Labels),
			KubeadmConfigPatches: nodeNamePatches(n.Name),
		})
	}
	return cfg
}

// clusterPatches are the kubeadm merge patches every node of the cluster
// gets: heartbeat and grace timings, cgroup v1 tolerance and, for a child,
// the relay's name in the API server's certificate.
func clusterPatches(cp *clusterPlan, o ConfigOptions) []string {
	var kubelet strings.Builder
	kubelet.WriteString("kind: KubeletConfiguration\n")
	fmt.Fprintf(&kubelet, "nodeStatusUpdateFrequency: %s\n", o.Timing.Heartbeat)
	fmt.Fprintf(&kubelet, "nodeStatusReportFrequency: %s\n", o.Timing.Heartbeat)
	// The kubelet renews its Lease every quarter of its duration.
	fmt.Fprintf(&kubelet, "nodeLeaseDurationSeconds: %d\n", max(int(4*o.Timing.Heartbeat/time.Second), 1))
	if o.CgroupV1 {
		kubelet.WriteString("failCgroupV1: false\n")
	}
	cluster := "kind: ClusterConfiguration\n" +
		"controllerManager:\n" +
		"  extraArgs:\n" +
		"    - name: enable-hostpath-provisioner\n" +
		"      value: \"true\"\n" +
		"    - name: node-monitor-grace-period\n" +
		fmt.Sprintf("      value: %q\n", o.Timing.NodeMonitorGracePeriod.String()) +
		"    - name: node-monitor-period\n" +
		fmt.Sprintf("      value: %q\n", NodeMonitorPeriod.String())
	if cp.Host != nil {
		cluster += "apiServer:\n" +
			fmt.Sprintf("  certSANs: [localhost, 127.0.0.1, %q]\n", cp.Host.Container)
	}
	return []string{kubelet.String(), cluster}
}

// nodeNamePatches register the node under its topology name, whichever of
// kubeadm init or join sets it up.
func nodeNamePatches(name string) []string {
	return []string{
		fmt.Sprintf("kind: InitConfiguration\nnodeRegistration:\n  name: %q\n", name),
		fmt.Sprintf("kind: JoinConfiguration\nnodeRegistration:\n  name: %q\n", name),
	}
}
