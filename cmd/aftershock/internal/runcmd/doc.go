// Package runcmd is `aftershock run`, `aftershock plan` and `aftershock
// steps`: run feature files against a fleet, dry-run them, and print the step
// library.
package runcmd
