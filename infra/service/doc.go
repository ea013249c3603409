// Package service runs the lab's degraded-mode services over real sockets, one
// process per node, inside the node's network namespace. A statically sharded
// service (e.g. metrics-intake) has one Shard per node that answers for itself,
// so it degrades linearly with the nodes lost. A quorum service (e.g.
// tag-index) has R Replicas that check each other over TCP, dialling from the
// node's own address so that every check takes the node's real routing; a
// replica answers only while it reaches a majority of the R replicas, itself
// included, so the service is all-or-nothing around its majority.
//
// It uses net/http and encoding/json alone, so that the aftershock-service
// binary stays small: a lab runs hundreds of them.
package service
