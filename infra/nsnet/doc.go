// Package nsnet opens sockets inside other network namespaces: Dialer for
// connections made from a node (a lab node, a kind node container, the lab's
// fabric), Listen for services served in one. The calling thread never
// changes namespace: each socket is made on a locked thread that joins the
// namespace and comes back before it serves anything else (or, if it cannot
// come back, is retired), so the host's namespace is never touched.
package nsnet
