package lab

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/aftershock-sre/aftershock/infra/lab/internal/namespace"
)

// The lab's addressing: region i (1-based) gets 10.i.0.0/16, its bridge in the
// fabric namespace is 10.i.0.1, and its k-th node (0-based) is 10.i.0.10+k
// onwards. Regions share no route: the fabric namespace does not forward.
const (
	firstNodeHost = 10
	regionPrefix  = 16
)

func regionSubnet(index int) *net.IPNet {
	return &net.IPNet{IP: net.IPv4(10, byte(index), 0, 0).To4(), Mask: net.CIDRMask(regionPrefix, 32)}
}

func regionGateway(index int) net.IP { return net.IPv4(10, byte(index), 0, 1).To4() }

func nodeAddress(region, k int) net.IP {
	host := firstNodeHost + k
	return net.IPv4(10, byte(region), byte(host/256), byte(host%256)).To4()
}

// Kernel default routing-policy rules, as a fresh network namespace has them.
const (
	localTable   = unix.RT_TABLE_LOCAL
	mainTable    = unix.RT_TABLE_MAIN
	defaultTable = unix.RT_TABLE_DEFAULT

	// Cilium moves the local lookup from priority 0 to 100, and installs
	// "to <ip> lookup main" at 20 and "from <ip> lookup <table>" at 111.
	cniLocalPriority = 100
	cniToPriority    = 20
	cniFromPriority  = 111
)

// createFabric makes the per-run fabric namespace with one bridge per region.
func createFabric(ctx context.Context, s *state) error {
	if err := namespace.Add(ctx, s.Fabric); err != nil {
		return err
	}
	h, err := namespace.Open(s.Fabric)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := linkUp(h, "lo"); err != nil {
		return fmt.Errorf("fabric %s: %w", s.Fabric, err)
	}
	for i, r := range s.Regions {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: r.Bridge}}
		if err := h.LinkAdd(br); err != nil {
			return fmt.Errorf("add bridge %s in %s: %w", r.Bridge, s.Fabric, err)
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: regionGateway(i + 1), Mask: net.CIDRMask(regionPrefix, 32)}}
		if err := h.AddrAdd(br, addr); err != nil {
			return fmt.Errorf("address bridge %s: %w", r.Bridge, err)
		}
		if err := h.LinkSetUp(br); err != nil {
			return fmt.Errorf("bring up bridge %s: %w", r.Bridge, err)
		}
	}
	return nil
}

// createNode makes the node's namespace and plugs its eth0 into the region's
// bridge, then boots its network.
func createNode(ctx context.Context, s *state, n *nodeState) error {
	if err := namespace.Add(ctx, n.Namespace); err != nil {
		return err
	}
	region, err := s.region(n.Region)
	if err != nil {
		return err
	}
	fabric, err := namespace.Open(s.Fabric)
	if err != nil {
		return err
	}
	defer fabric.Close()
	node, err := namespace.Open(n.Namespace)
	if err != nil {
		return err
	}
	defer node.Close()

	bridge, err := fabric.LinkByName(region.Bridge)
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", region.Bridge, err)
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: n.FabricVeth, MasterIndex: bridge.Attrs().Index},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(node.NsFd()),
	}
	if err := fabric.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s for %s: %w", n.FabricVeth, n.Name, err)
	}
	if err := fabric.LinkSetUp(veth); err != nil {
		return fmt.Errorf("bring up veth %s: %w", n.FabricVeth, err)
	}
	return bootNetwork(node, s, n)
}

// bootNetwork brings a node's network up in boot order, exactly as after a
// reboot: the kernel's defaults first, then what systemd-networkd configures
// (links and the address), then what the CNI agent installs (its routing
// table and policy rules). Because networkd runs before the CNI, a boot never
// leaves anything "foreign" for networkd to flush.
func bootNetwork(h *namespace.Handle, s *state, n *nodeState) error {
	if err := resetNetwork(h, s.Topology.CNI.RouteTable); err != nil {
		return fmt.Errorf("reset network of %s: %w", n.Name, err)
	}
	if err := networkdUp(h, n); err != nil {
		return fmt.Errorf("networkd on %s: %w", n.Name, err)
	}
	if err := cniUp(h, s, n); err != nil {
		return fmt.Errorf("CNI on %s: %w", n.Name, err)
	}
	return nil
}

// resetNetwork returns the namespace to a freshly booted kernel's state: only
// the three default rules, no address on eth0 and an empty CNI table.
func resetNetwork(h *namespace.Handle, table int) error {
	rules, err := h.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list rules: %w", err)
	}
	hasLocal := false
	for _, r := range rules {
		if isKernelDefaultRule(r) {
			hasLocal = hasLocal || r.Priority == 0
			continue
		}
		if err := h.RuleDel(&r); err != nil {
			return fmt.Errorf("delete rule %s: %w", r.String(), err)
		}
	}
	if !hasLocal {
		if err := h.RuleAdd(defaultLocalRule()); err != nil {
			return fmt.Errorf("restore local rule: %w", err)
		}
	}
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list routes in table %d: %w", table, err)
	}
	for _, r := range routes {
		if err := h.RouteDel(&r); err != nil {
			return fmt.Errorf("delete route %s: %w", r.String(), err)
		}
	}
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("find eth0: %w", err)
	}
	addrs, err := h.AddrList(eth0, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if err := h.AddrDel(eth0, &a); err != nil {
			return fmt.Errorf("delete address %s: %w", a.IPNet, err)
		}
	}
	return nil
}

// isKernelDefaultRule reports whether r is one of the rules every new network
// namespace starts with (0: local, 32766: main, 32767: default).
func isKernelDefaultRule(r netlink.Rule) bool {
	if r.Src != nil || r.Dst != nil {
		return false
	}
	switch {
	case r.Priority == 0 && r.Table == localTable,
		r.Priority == 32766 && r.Table == mainTable,
		r.Priority == 32767 && r.Table == defaultTable:
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

// networkdUp is what systemd-networkd does for the node: bring up lo and eth0
// and assign the node's /32.
func networkdUp(h *namespace.Handle, n *nodeState) error {
	if err := linkUp(h, "lo"); err != nil {
		return err
	}
	if err := linkUp(h, "eth0"); err != nil {
		return err
	}
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("find eth0: %w", err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(n.Address).To4(), Mask: net.CIDRMask(32, 32)}}
	if err := h.AddrAdd(eth0, addr); err != nil {
		return fmt.Errorf("add address %s: %w", n.Address, err)
	}
	return nil
}

// cniUp is what a Cilium agent in ENI mode installs: the node's routes live in
// a per-interface table, selected by policy rules, and the local lookup moves
// from priority 0 to 100. Without these rules the node reaches nothing, not
// even its own address.
func cniUp(h *namespace.Handle, s *state, n *nodeState) error {
	cni := s.Topology.CNI
	proto, err := cni.RuleProtocol.Number()
	if err != nil {
		return err
	}
	region, err := s.region(n.Region)
	if err != nil {
		return err
	}
	_, subnet, err := net.ParseCIDR(region.Subnet)
	if err != nil {
		return fmt.Errorf("region %s subnet: %w", region.Name, err)
	}
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("find eth0: %w", err)
	}
	idx := eth0.Attrs().Index
	routes := []*netlink.Route{
		{LinkIndex: idx, Dst: subnet, Scope: netlink.SCOPE_LINK, Table: cni.RouteTable},
		{LinkIndex: idx, Gw: net.ParseIP(region.Gateway).To4(), Flags: int(netlink.FLAG_ONLINK), Table: cni.RouteTable},
	}
	for _, r := range routes {
		if err := h.RouteAdd(r); err != nil {
			return fmt.Errorf("add route %s: %w", r.String(), err)
		}
	}
	self := &net.IPNet{IP: net.ParseIP(n.Address).To4(), Mask: net.CIDRMask(32, 32)}
	for _, r := range cniRules(self, cni.RouteTable, proto) {
		if err := h.RuleAdd(r); err != nil {
			return fmt.Errorf("add rule %s: %w", r.String(), err)
		}
	}
	if err := h.RuleDel(defaultLocalRule()); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("move local rule off priority 0: %w", err)
	}
	return nil
}

// cniRules are the CNI's policy rules for a node, the local lookup first so
// that moving it off priority 0 leaves no gap.
func cniRules(self *net.IPNet, table int, proto uint8) []*netlink.Rule {
	rule := func(priority, table int) *netlink.Rule {
		r := netlink.NewRule()
		r.Family = netlink.FAMILY_V4
		r.Priority = priority
		r.Table = table
		r.Protocol = proto
		return r
	}
	local := rule(cniLocalPriority, localTable)
	to := rule(cniToPriority, mainTable)
	to.Dst = self
	from := rule(cniFromPriority, table)
	from.Src = self
	return []*netlink.Rule{local, to, from}
}

func linkUp(h *namespace.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring up %s: %w", name, err)
	}
	return nil
}
