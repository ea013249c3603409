// Package app is the aftershock command's composition root: it builds the
// cobra command tree from the subcommand packages, wires logging and signal
// handling, and turns errors into an exit code. It holds no logic of its own.
package app
