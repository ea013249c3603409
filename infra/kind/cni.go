package kind

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// CNIConfigPath is where the provider writes each node's CNI configuration.
const CNIConfigPath = "/etc/cni/net.d/10-aftershock.conflist"

// cniConfig is the node's CNI configuration: ptp veths with host-local
// addresses from the node's own /24, masqueraded when they leave the pod
// network, and host ports. The IPAM state lives under /run, so a reboot
// forgets it as it forgets the pods.
func cniConfig(podCIDR string) (string, error) {
	if _, _, err := net.ParseCIDR(podCIDR); err != nil {
		return "", fmt.Errorf("pod CIDR %q: %w", podCIDR, err)
	}
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "aftershock",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"ranges":  []any{[]any{map[string]any{"subnet": podCIDR}}},
					"routes":  []any{map[string]any{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{
				"type":         "portmap",
				"capabilities": map[string]bool{"portMappings": true},
			},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return "", err
	}
	return string(b) + "\n", nil
}

// Policy-routing priorities, as Cilium in ENI mode installs them (and as the
// lab does): "to" lookups in main at 20, the local table moved from 0 to 100,
// "from" lookups in the per-interface table at 111. 112 sends everything else
// through that table too: connections the node opens before it has chosen a
// source address (DNS, a kubelet's new connection) and traffic it forwards
// (the relay to a hosted child control plane); the main table keeps only the
// pods' routes.
const (
	cniToPriority      = 20
	cniLocalPriority   = 100
	cniFromPriority    = 111
	cniForwardPriority = 112

	localTable   = unix.RT_TABLE_LOCAL
	mainTable    = unix.RT_TABLE_MAIN
	defaultTable = unix.RT_TABLE_DEFAULT
)

// nodeNet is a node's addressing on its region's network.
type nodeNet struct {
	Self    net.IP     // the node's address
	Subnet  *net.IPNet // the region's Docker network
	Gateway net.IP     // the network's gateway (the host's bridge)
	PodCIDR *net.IPNet
	Peers   []peer
	Table   int
	Proto   uint8
}

// peer is another node of the same cluster and its pods' range.
type peer struct {
	IP      net.IP
	PodCIDR *net.IPNet
}

// cniRules are the node's policy rules, the local lookup first so that
// moving it off priority 0 leaves no gap.
func cniRules(n nodeNet) []*netlink.Rule {
	rule := func(priority, table int) *netlink.Rule {
		r := netlink.NewRule()
		r.Family = netlink.FAMILY_V4
		r.Priority = priority
		r.Table = table
		r.Protocol = n.Proto
		return r
	}
	self := &net.IPNet{IP: n.Self.To4(), Mask: net.CIDRMask(32, 32)}
	local := rule(cniLocalPriority, localTable)
	toSelf := rule(cniToPriority, mainTable)
	toSelf.Dst = self
	toPods := rule(cniToPriority, mainTable)
	toPods.Dst = n.PodCIDR
	fromSelf := rule(cniFromPriority, n.Table)
	fromSelf.Src = self
	fromPods := rule(cniFromPriority, n.Table)
	fromPods.Src = n.PodCIDR
	rest := rule(cniForwardPriority, n.Table)
	return []*netlink.Rule{local, toSelf, toPods, fromSelf, fromPods, rest}
}

// cniRoutes are the routes of the node's per-interface table: its network,
// the default route, and every peer's pod range through that peer.
func cniRoutes(n nodeNet, eth0 int) []*netlink.Route {
	self := n.Self.To4()
	routes := []*netlink.Route{
		{LinkIndex: eth0, Dst: n.Subnet, Src: self, Scope: netlink.SCOPE_LINK, Table: n.Table},
		{LinkIndex: eth0, Gw: n.Gateway.To4(), Src: self, Flags: int(netlink.FLAG_ONLINK), Table: n.Table},
	}
	for _, p := range n.Peers {
		routes = append(routes, &netlink.Route{
			LinkIndex: eth0, Dst: p.PodCIDR, Gw: p.IP.To4(), Flags: int(netlink.FLAG_ONLINK), Table: n.Table,
		})
	}
	return routes
}

// isOurRule reports whether r sits at a priority the CNI owns and is not
// one of the kernel's defaults.
func isOurRule(r netlink.Rule) bool {
	switch r.Priority {
	case cniToPriority, cniLocalPriority, cniFromPriority, cniForwardPriority:
		return true
	}
	return false
}

func defaultLocalRule() *netlink.Rule {
	r := netlink.NewRule()
	r.Family = netlink.FAMILY_V4
	r.Priority = 0
	r.Table = localTable
	r.Protocol = unix.RTPROT_KERNEL
	return r
}

// policyRoute moves a node onto policy routing, as a Cilium agent in ENI
// mode leaves it, through a netlink handle in the node's namespace:
//   - the per-interface table holds the node's routes;
//   - the node's address becomes a /32, so the main table holds nothing of
//     its network (Docker's prefix route and default route go);
//   - rules select the table; the local lookup moves from 0 to 100.
//
// It is idempotent: it replaces what it installed before, so it serves both
// first boot and every reboot.
func policyRoute(h *netlink.Handle, n nodeNet) error {
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("find eth0: %w", err)
	}
	idx := eth0.Attrs().Index
	// 1. The table first, so the rules never point at an empty one.
	for _, r := range cniRoutes(n, idx) {
		if err := h.RouteReplace(r); err != nil {
			return fmt.Errorf("route %s: %w", r, err)
		}
	}
	// 2. The rules: drop what an earlier run left, add ours, then move the
	// local lookup off priority 0.
	rules, err := h.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list rules: %w", err)
	}
	for _, r := range rules {
		if isOurRule(r) {
			if err := h.RuleDel(&r); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("delete rule %s: %w", r.String(), err)
			}
		}
	}
	for _, r := range cniRules(n) {
		if err := h.RuleAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add rule %s: %w", r.String(), err)
		}
	}
	if err := h.RuleDel(defaultLocalRule()); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("move the local rule off priority 0: %w", err)
	}
	// 3. The address: the /32 in, Docker's prefix out (with its routes).
	self := &netlink.Addr{IPNet: &net.IPNet{IP: n.Self.To4(), Mask: net.CIDRMask(32, 32)}}
	if err := h.AddrAdd(eth0, self); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add %s: %w", self.IPNet, err)
	}
	addrs, err := h.AddrList(eth0, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if ones, _ := a.Mask.Size(); a.IP.Equal(n.Self) && ones != 32 {
			if err := h.AddrDel(eth0, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				return fmt.Errorf("delete %s: %w", a.IPNet, err)
			}
		}
	}
	main, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: mainTable, LinkIndex: idx},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_OIF)
	if err != nil {
		return fmt.Errorf("list main routes: %w", err)
	}
	for _, r := range main {
		if r.Dst == nil || r.Dst.IP.Equal(net.IPv4zero) || r.Dst.String() == n.Subnet.String() {
			if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("delete main route %s: %w", r.String(), err)
			}
		}
	}
	return nil
}
