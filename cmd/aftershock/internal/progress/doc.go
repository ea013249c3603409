// Package progress shows how long-running work advances: on a terminal it
// redraws one status line in place, elsewhere (CI, pipes, CI=true) it prints a
// plain line whenever a phase starts, ends, or moves by a tenth.
package progress
