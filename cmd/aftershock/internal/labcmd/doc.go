// Package labcmd is `aftershock lab`: bring an embedded lab up from a preset or
// a topology file, show its clusters and nodes, and tear it down.
package labcmd
