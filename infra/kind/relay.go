package kind

import (
	"fmt"
	"net"
	"strings"
)

// Relay chains in the nat table of a hosting parent node.
const (
	relayChain     = "AFTERSHOCK-RELAY"
	relayPostChain = "AFTERSHOCK-RELAY-POST"
)

// relay is one hosted control plane that a parent node forwards.
type relay struct {
	Child string // topology cluster
	Port  int    // on the parent node
	To    string // the child's control-plane container address
}

// relayScript is the shell a hosting parent node runs (iptables in its own
// network namespace) so that <node>:<port> reaches each hosted child's API
// server, replies included. It owns two chains and rewrites them whole, so it
// is idempotent and leaves every other rule alone.
func relayScript(relays []relay) (string, error) {
	var b strings.Builder
	b.WriteString("set -e\n")
	b.WriteString("sysctl -qw net.ipv4.ip_forward=1\n")
	for _, c := range []string{relayChain, relayPostChain} {
		fmt.Fprintf(&b, "iptables -w -t nat -N %s 2>/dev/null || true\n", c)
		fmt.Fprintf(&b, "iptables -w -t nat -F %s\n", c)
	}
	fmt.Fprintf(&b, "iptables -w -t nat -C PREROUTING -j %s 2>/dev/null || iptables -w -t nat -I PREROUTING 1 -j %s\n", relayChain, relayChain)
	fmt.Fprintf(&b, "iptables -w -t nat -C POSTROUTING -j %s 2>/dev/null || iptables -w -t nat -I POSTROUTING 1 -j %s\n", relayPostChain, relayPostChain)
	for _, r := range relays {
		ip := net.ParseIP(r.To).To4()
		if ip == nil {
			return "", fmt.Errorf("relay for %s: %q is not an IPv4 address", r.Child, r.To)
		}
		if r.Port <= 0 || r.Port > 65535 {
			return "", fmt.Errorf("relay for %s: port %d", r.Child, r.Port)
		}
		comment := "aftershock relay " + r.Child
		fmt.Fprintf(&b, "iptables -w -t nat -A %s -p tcp --dport %d -m comment --comment %q -j DNAT --to-destination %s:%d\n",
			relayChain, r.Port, comment, ip, apiServerPort)
		fmt.Fprintf(&b, "iptables -w -t nat -A %s -p tcp -d %s --dport %d -m comment --comment %q -j MASQUERADE\n",
			relayPostChain, ip, apiServerPort, comment)
	}
	return b.String(), nil
}

// relayEndpoint is the API server URL of a hosted child, through its host.
func relayEndpoint(hostContainer string, port int) string {
	return fmt.Sprintf("https://%s:%d", hostContainer, port)
}

// kubeletThroughRelayScript points a child node's kubelet at its API server
// through the hosting parent node, and restarts it.
func kubeletThroughRelayScript(server string) string {
	return fmt.Sprintf("set -e\n"+
		"sed -i 's#^\\([[:space:]]*server:\\).*#\\1 %s#' /etc/kubernetes/kubelet.conf\n"+
		"systemctl restart kubelet\n", server)
}
