package topology

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Cloud is the cloud provider a region runs on. It decides how the region
// reacts when a node loses its network (reboot in place or replacement).
type Cloud string

// The clouds of the 2023 incident.
const (
	AWS   Cloud = "aws"
	GCP   Cloud = "gcp"
	Azure Cloud = "azure"
)

// ClusterRole says whether a cluster hosts other clusters' control planes.
type ClusterRole string

const (
	// Parent clusters run their own control plane on their control-plane
	// nodes, and host the control planes of their child clusters on workers.
	Parent ClusterRole = "parent"
	// Child clusters run the applications; their control plane lives on a
	// worker of their parent cluster.
	Child ClusterRole = "child"
)

// NodeRole is a node's role inside its cluster.
type NodeRole string

const (
	ControlPlane NodeRole = "control-plane"
	Worker       NodeRole = "worker"
)

// RuleProtocol is the routing-protocol value the CNI stamps on its ip rules.
// systemd-networkd ≥ v248 deletes every rule whose protocol is not "kernel"
// when it restarts; Cilium's post-incident fix installs its rules as "kernel".
type RuleProtocol string

const (
	ProtoUnspec RuleProtocol = "unspec" // what Cilium used before the fix
	ProtoBoot   RuleProtocol = "boot"   // what `ip rule add` uses by default
	ProtoStatic RuleProtocol = "static"
	ProtoKernel RuleProtocol = "kernel" // Cilium's fix: networkd leaves these alone
)

// Number is the protocol's rtnetlink value (RTPROT_*), as rules carry it.
func (p RuleProtocol) Number() (uint8, error) {
	switch p {
	case ProtoUnspec:
		return unix.RTPROT_UNSPEC, nil
	case ProtoBoot:
		return unix.RTPROT_BOOT, nil
	case ProtoStatic:
		return unix.RTPROT_STATIC, nil
	case ProtoKernel:
		return unix.RTPROT_KERNEL, nil
	}
	return 0, fmt.Errorf("unknown rule protocol %q", p)
}

// Topology is a whole fleet: every region, cluster and node, plus the timings
// and network settings the lab runs it with.
type Topology struct {
	// Name identifies the topology in reports ("three-regions").
	Name    string
	Regions []Region
	Timing  Timing
	CNI     CNI
	// Source is the file the topology was read from, or "preset:NAME".
	Source string
}

// Region is an isolated failure domain: no network route leads from one
// region to another, as in the 2023 incident.
type Region struct {
	Name     string
	Cloud    Cloud
	Clusters []Cluster
	// Line is where the region is declared in Source (0 for presets).
	Line int
	// FieldLines maps each field set in Source to its line.
	FieldLines map[string]int `json:"-"`
}

// LineOf is the line of field in Source, or the region's own line.
func (r Region) LineOf(field string) int { return lineOf(r.FieldLines, field, r.Line) }

// Cluster is one Kubernetes cluster with its own control plane.
type Cluster struct {
	Name string
	Role ClusterRole
	// Parent names the parent cluster (same region) that hosts this child's
	// control plane. Empty for parent clusters.
	Parent string
	// ControlPlanes is the number of control-plane nodes (parents only).
	ControlPlanes int
	// Workers is the number of worker nodes.
	Workers int
	// Line is where the cluster is declared in Source (0 for presets).
	Line int
	// FieldLines maps each field set in Source to its line.
	FieldLines map[string]int `json:"-"`
}

// LineOf is the line of field in Source, or the cluster's own line.
func (c Cluster) LineOf(field string) int { return lineOf(c.FieldLines, field, c.Line) }

func lineOf(lines map[string]int, field string, fallback int) int {
	if l, ok := lines[field]; ok {
		return l
	}
	return fallback
}

// Timing holds the lab's compressed durations. Zero values mean defaults.
type Timing struct {
	// Heartbeat is how often node agents renew their Lease and post Ready.
	Heartbeat time.Duration
	// NodeMonitorGracePeriod is how long the node lifecycle controller waits
	// for a heartbeat before it marks a node NotReady (Unknown).
	NodeMonitorGracePeriod time.Duration
}

// CNI configures the lab's Cilium-like policy routing.
type CNI struct {
	// RuleProtocol is the protocol stamped on the CNI's ip rules.
	RuleProtocol RuleProtocol
	// RouteTable is the per-interface routing table (Cilium ENI uses 2004+).
	RouteTable int
}

// Default timings and CNI settings, applied by WithDefaults.
const (
	DefaultHeartbeat              = 1 * time.Second
	DefaultNodeMonitorGracePeriod = 4 * time.Second
	DefaultRouteTable             = 2004
)

// WithDefaults returns a copy of t where unset timings and CNI settings have
// their default values.
func (t Topology) WithDefaults() Topology {
	if t.Timing.Heartbeat == 0 {
		t.Timing.Heartbeat = DefaultHeartbeat
	}
	if t.Timing.NodeMonitorGracePeriod == 0 {
		t.Timing.NodeMonitorGracePeriod = DefaultNodeMonitorGracePeriod
	}
	if t.CNI.RuleProtocol == "" {
		t.CNI.RuleProtocol = ProtoUnspec
	}
	if t.CNI.RouteTable == 0 {
		t.CNI.RouteTable = DefaultRouteTable
	}
	return t
}

// Node is one machine of a cluster, as the topology lays it out.
type Node struct {
	// Name is unique in the topology: "<cluster>-cp<i>" or "<cluster>-w<i>".
	Name    string
	Region  string
	Cloud   Cloud
	Cluster string
	// ClusterRole is the role of the node's cluster.
	ClusterRole ClusterRole
	Role        NodeRole
}

// Nodes lists the nodes of c in a stable order: control planes, then workers.
func (c Cluster) Nodes(region Region) []Node {
	nodes := make([]Node, 0, c.ControlPlanes+c.Workers)
	add := func(role NodeRole, prefix string, n int) {
		for i := range n {
			nodes = append(nodes, Node{
				Name:        fmt.Sprintf("%s-%s%d", c.Name, prefix, i),
				Region:      region.Name,
				Cloud:       region.Cloud,
				Cluster:     c.Name,
				ClusterRole: c.Role,
				Role:        role,
			})
		}
	}
	add(ControlPlane, "cp", c.ControlPlanes)
	add(Worker, "w", c.Workers)
	return nodes
}

// Nodes lists every node of the topology, region by region, cluster by cluster.
func (t Topology) Nodes() []Node {
	var nodes []Node
	for _, r := range t.Regions {
		for _, c := range r.Clusters {
			nodes = append(nodes, c.Nodes(r)...)
		}
	}
	return nodes
}

// Clusters lists every cluster with the region it belongs to.
func (t Topology) Clusters() []RegionCluster {
	var out []RegionCluster
	for _, r := range t.Regions {
		for _, c := range r.Clusters {
			out = append(out, RegionCluster{Region: r, Cluster: c})
		}
	}
	return out
}

// RegionCluster is a cluster together with its region.
type RegionCluster struct {
	Region  Region
	Cluster Cluster
}
