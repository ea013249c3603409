// Package infra holds the small interfaces every fleet provider implements
// (the embedded lab, kind, Terraform) and the node labels they all stamp, so
// that the experiment engine can act on any fleet without knowing which one it
// is. Implementations live in the sub-packages and never import the engine.
package infra
