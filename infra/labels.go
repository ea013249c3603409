package infra

import "github.com/aftershock-sre/aftershock/infra/topology"

// Labels every provider puts on its Node objects, so that targeting and
// reports work the same on the lab, kind and real clusters.
const (
	LabelRegion      = "topology.kubernetes.io/region"
	LabelCloud       = "aftershock.io/cloud"
	LabelCluster     = "aftershock.io/cluster"
	LabelClusterRole = "aftershock.io/cluster-role"
	LabelNodeRole    = "aftershock.io/node-role"
	// LabelHostedOn marks a Node that is not a fleet node but a child
	// cluster's control plane hosted on the named parent node (kind gives
	// it a Node of its own). Readiness probes leave it out: the control
	// plane's reachability is probed as such.
	LabelHostedOn = "aftershock.io/hosted-on"
	// AnnotationNetworkInterfaces is where an aws region's network operator
	// records the interfaces it attached to a launched node; the node waits
	// for it before its network is ready.
	AnnotationNetworkInterfaces = "aftershock.io/network-interfaces"
	// LabelControlPlane is Kubernetes' own marker for control-plane nodes.
	LabelControlPlane = "node-role.kubernetes.io/control-plane"
)

// NodeLabels returns the labels a node of the topology carries.
func NodeLabels(n topology.Node) map[string]string {
	labels := map[string]string{
		LabelRegion:      n.Region,
		LabelCloud:       string(n.Cloud),
		LabelCluster:     n.Cluster,
		LabelClusterRole: string(n.ClusterRole),
		LabelNodeRole:    string(n.Role),
	}
	if n.Role == topology.ControlPlane {
		labels[LabelControlPlane] = ""
	}
	return labels
}
