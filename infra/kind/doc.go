// Package kind builds an aftershock fleet out of real kind clusters, through
// sigs.k8s.io/kind's Go API (cluster.NewProvider, config v1alpha4), and acts
// on their node containers: faults reach a node through its container's
// network namespace (/proc/<pid>/ns/net, netns.GetFromPid, netlink.NewHandleAt),
// reboot restarts the container and terminate removes it. Teardown deletes
// only the kind clusters and Docker networks whose names carry this run's ID.
//
// # Nesting: how a child cluster's control plane lives on its parent
//
// Every topology cluster becomes one kind cluster, "as-<run>-<cluster>", and
// every region one IPv4-only Docker network, "as-<run>-<region>", so regions
// have no route to each other. A child cluster is a kind cluster of its own
// whose single kind control-plane container is the child's *hosted control
// plane*. It is reachable only through the parent worker that hosts it (chosen
// round-robin, as the lab does): that worker relays a TCP port to the child's
// API server (an iptables DNAT inside the worker's network namespace), and
// every kubelet of the child cluster, and this process, talk to the child's
// API server through that relay. So cutting the parent worker (a networkd
// flush in its namespace, a reboot, a terminate) really cuts the child's
// control plane: its nodes stop heartbeating and the child's API server
// becomes unreachable from outside, as in the 2023 incident.
//
// # CNI
//
// kind's default CNI (kindnet) routes through the main table, so a networkd
// restart would change nothing. Every kind cluster is therefore created with
// disableDefaultCNI, and the provider is the CNI agent, as Cilium in ENI mode
// is: it writes a ptp + host-local CNI configuration into each node as soon as
// the node container exists (so kind's wait-for-ready succeeds), and once the
// cluster is up it moves each node onto policy routing through netlink: the
// node's address becomes a /32, its routes live in a per-interface table
// (topology.CNI.RouteTable, 2004), and rules select that table (priority 20,
// 100, 111 and a catch-all 112, stamped with topology.CNI.RuleProtocol).
// Deleting those foreign rules cuts the node off, pods and kubelet included.
package kind
