// Package namespace manages named Linux network namespaces for the lab: it
// creates and deletes them with iproute2 (which sets up /run/netns mount
// propagation the way every other tool expects), opens netlink handles bound to
// them without ever switching the calling thread, and finds the processes that
// live in them. Sockets inside them come from infra/nsnet.
//
// Nothing here touches the host's own network namespace: every handle and every
// socket is bound to a named namespace.
package namespace
