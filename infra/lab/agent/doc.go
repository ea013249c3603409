// Package agent is the lab's node agent: a small stand-in for the kubelet that
// runs inside a node's network namespace. It registers the node's Node object
// with its labels, and on every heartbeat renews the node's Lease and posts the
// Ready condition. It dials the API server from the node's own address, so its
// heartbeats travel the node's real routing: when the node's policy rules are
// flushed, the heartbeats stop and Kubernetes itself marks the node NotReady.
//
// It speaks the Kubernetes REST API with net/http and encoding/json alone, so
// that the aftershock-agent binary stays small: a lab runs hundreds of them.
package agent
