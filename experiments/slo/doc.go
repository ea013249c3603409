// Package slo holds the verdicts of an experiment: pure functions that replay
// a timeline of experiments.Event and say whether a degraded-mode SLO held
// (enough nodes NotReady within T, every region hit, control planes
// unreachable, all nodes Ready again, none NotReady for a while), whether
// recovery happened in the required group order, and how long it took. Each
// verdict is a Result naming its evidence: the node, cluster or region at
// fault, the instant, and the observed value against the required one. A
// node's readiness is the Status ("Ready" or "NotReady") of its latest
// KindNodeReady event at or before an instant, and is unknown before its
// first one; events are replayed in time order (ties in slice order), and a
// window [from, from+within] includes both ends. The package does no I/O,
// reads no clock and starts no goroutines.
package slo
