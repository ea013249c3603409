// Package kindtest is for tests only: Require tells a test whether it can
// create real kind clusters on this machine, skipping it with the reason
// when it cannot, or failing it when `make test` demands kind.
package kindtest
