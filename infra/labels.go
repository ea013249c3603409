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
