// Package probe holds the observers that turn a fleet's behaviour into
// timeline events: node readiness from a client-go informer per cluster, and
// control-plane reachability from periodic /readyz requests. The same code
// watches the lab, kind and real clusters: it only needs a rest.Config.
package probe
