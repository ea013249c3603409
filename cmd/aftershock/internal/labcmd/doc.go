// Package labcmd is `aftershock lab`: bring an embedded lab up from a preset or
// a topology file, show its clusters and nodes, act on one node (reboot,
// terminate, exec: the lab's stand-ins for a cloud's APIs and an ssh session),
// print it as a Terraform fleet inventory, and tear it down.
package labcmd
