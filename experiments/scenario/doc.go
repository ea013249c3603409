// Package scenario runs one experiment against one fleet: it provisions the
// fleet through a Provider, starts the probes that fill the timeline, injects
// faults at their scheduled instants, carries out operator actions, and
// always reverts and tears down. The godog steps are thin glue over it.
package scenario
