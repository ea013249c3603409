// Package injectcmd is `aftershock inject`: the node-side half of a fault on a
// fleet that aftershock reaches only through an exec channel (Terraform
// fleets). It does the netlink work locally, with experiments/fault's own
// snapshot-then-journal semantics, into a journal on the node, and reverts
// from that journal.
package injectcmd
