// Package agentcmd is the hidden `aftershock agent` subcommand: the lab's node
// agent, which the lab starts inside each node's network namespace.
package agentcmd
