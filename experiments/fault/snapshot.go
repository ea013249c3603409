package fault

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// snapshotVersion is the version of NetworkdSnapshot's JSON.
const snapshotVersion = 1

// NetworkdSnapshot is everything a networkd restart removed from one node,
// recorded before it removed anything: what Revert re-creates, and what the
// journal stores.
type NetworkdSnapshot struct {
	Version int           `json:"version"`
	Rules   []RuleRecord  `json:"rules"`
	Routes  []RouteRecord `json:"routes"`
}

// RuleRecord is one routing-policy rule, with every attribute the kernel
// reported, so that re-adding it gives back the same rule.
type RuleRecord struct {
	Family   string `json:"family"` // "inet" or "inet6"
	Priority uint32 `json:"priority"`
	// Action is the FR_ACT_* value: 1 lookup table, 2 goto, 3 nop,
	// 6 blackhole, 7 unreachable, 8 prohibit.
	Action   uint8  `json:"action"`
	Table    uint32 `json:"table"`
	Protocol uint8  `json:"protocol"` // RTPROT_*: 0 unspec, 2 kernel, 3 boot, 4 static
	// Flags are the rule's FIB_RULE_* configuration flags (0x2: "not");
	// the kernel's state flags (unresolved, detached) are left out.
	Flags             uint32     `json:"flags,omitempty"`
	Tos               uint8      `json:"tos,omitempty"`
	Src               string     `json:"src,omitempty"` // CIDR, host bits kept
	Dst               string     `json:"dst,omitempty"`
	IifName           string     `json:"iif,omitempty"`
	OifName           string     `json:"oif,omitempty"`
	Mark              *uint32    `json:"fwmark,omitempty"`
	Mask              *uint32    `json:"fwmask,omitempty"`
	Goto              *uint32    `json:"goto,omitempty"`
	Realms            *uint32    `json:"realms,omitempty"`
	SuppressPrefixlen *uint32    `json:"suppress_prefixlength,omitempty"`
	SuppressIfgroup   *uint32    `json:"suppress_ifgroup,omitempty"`
	TunID             *uint64    `json:"tun_id,omitempty"`
	L3mdev            *uint8     `json:"l3mdev,omitempty"`
	IPProto           *uint8     `json:"ipproto,omitempty"`
	Sport             *PortRange `json:"sport,omitempty"`
	Dport             *PortRange `json:"dport,omitempty"`
	UIDRange          *UIDRange  `json:"uidrange,omitempty"`
	// Extra holds attributes this code has no name for, verbatim.
	Extra []RawAttr `json:"extra,omitempty"`
}

// PortRange is an inclusive range of TCP or UDP ports.
type PortRange struct {
	Start uint16 `json:"start"`
	End   uint16 `json:"end"`
}

// UIDRange is an inclusive range of user IDs.
type UIDRange struct {
	Start uint32 `json:"start"`
	End   uint32 `json:"end"`
}

// RawAttr is a netlink attribute kept as it came: its type and hex value.
type RawAttr struct {
	Type  uint16 `json:"type"`
	Value string `json:"hex"`
}

// key identifies a rule: two rules are the same exactly when their keys are.
func (r RuleRecord) key() string {
	b, _ := json.Marshal(r) // a struct of plain fields always marshals
	return string(b)
}

// String renders the rule roughly as `ip rule` does, for messages.
func (r RuleRecord) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d:", r.Priority)
	if r.Family == "inet6" {
		b.WriteString(" inet6")
	}
	if r.Flags&unix.FIB_RULE_INVERT != 0 {
		b.WriteString(" not")
	}
	from, to := "all", ""
	if r.Src != "" {
		from = r.Src
	}
	if r.Dst != "" {
		to = " to " + r.Dst
	}
	fmt.Fprintf(&b, " from %s%s", from, to)
	if r.IifName != "" {
		fmt.Fprintf(&b, " iif %s", r.IifName)
	}
	if r.OifName != "" {
		fmt.Fprintf(&b, " oif %s", r.OifName)
	}
	if r.Mark != nil || r.Mask != nil {
		var mark, mask uint32 = 0, ^uint32(0)
		if r.Mark != nil {
			mark = *r.Mark
		}
		if r.Mask != nil {
			mask = *r.Mask
		}
		fmt.Fprintf(&b, " fwmark %#x/%#x", mark, mask)
	}
	if r.L3mdev != nil && *r.L3mdev != 0 {
		b.WriteString(" l3mdev")
	}
	switch r.Action {
	case unix.FR_ACT_TO_TBL:
		if r.Table != 0 {
			fmt.Fprintf(&b, " lookup %d", r.Table)
		}
	case unix.FR_ACT_GOTO:
		if r.Goto != nil {
			fmt.Fprintf(&b, " goto %d", *r.Goto)
		}
	case unix.FR_ACT_NOP:
		b.WriteString(" nop")
	case unix.FR_ACT_BLACKHOLE:
		b.WriteString(" blackhole")
	case unix.FR_ACT_UNREACHABLE:
		b.WriteString(" unreachable")
	case unix.FR_ACT_PROHIBIT:
		b.WriteString(" prohibit")
	default:
		fmt.Fprintf(&b, " action %d", r.Action)
	}
	fmt.Fprintf(&b, " proto %d", r.Protocol)
	return b.String()
}

// RouteRecord is one route, with its link by name, so that re-adding it gives
// back the same route even on a re-created link.
type RouteRecord struct {
	Family   string `json:"family"` // "inet" or "inet6"
	Table    int    `json:"table"`
	Type     int    `json:"type"` // RTN_*: 1 unicast, 2 local, 3 broadcast, …
	Dst      string `json:"dst"`  // CIDR; 0.0.0.0/0 or ::/0 for default
	Gw       string `json:"gw,omitempty"`
	Link     string `json:"link"`
	Scope    uint8  `json:"scope"`    // RT_SCOPE_*: 0 global, 253 link, 254 host
	Protocol int    `json:"protocol"` // RTPROT_*
	Metric   int    `json:"metric,omitempty"`
	Src      string `json:"prefsrc,omitempty"`
	Tos      int    `json:"tos,omitempty"`
	// Flags are RTNH_F_ONLINK (4) and RTNH_F_PERVASIVE (2); state flags
	// such as linkdown are left out.
	Flags   int           `json:"flags,omitempty"`
	Realm   int           `json:"realm,omitempty"`
	Metrics *RouteMetrics `json:"metrics,omitempty"`
}

// RouteMetrics are a route's RTAX_* metrics, as netlink.Route carries them.
type RouteMetrics struct {
	MTU              int    `json:"mtu,omitempty"`
	MTULock          bool   `json:"mtu_lock,omitempty"`
	Window           int    `json:"window,omitempty"`
	Rtt              int    `json:"rtt,omitempty"`
	RttVar           int    `json:"rttvar,omitempty"`
	Ssthresh         int    `json:"ssthresh,omitempty"`
	Cwnd             int    `json:"cwnd,omitempty"`
	AdvMSS           int    `json:"advmss,omitempty"`
	Reordering       int    `json:"reordering,omitempty"`
	Hoplimit         int    `json:"hoplimit,omitempty"`
	InitCwnd         int    `json:"initcwnd,omitempty"`
	Features         int    `json:"features,omitempty"`
	RtoMin           int    `json:"rto_min,omitempty"`
	RtoMinLock       bool   `json:"rto_min_lock,omitempty"`
	InitRwnd         int    `json:"initrwnd,omitempty"`
	QuickACK         int    `json:"quickack,omitempty"`
	Congctl          string `json:"congctl,omitempty"`
	FastOpenNoCookie int    `json:"fastopen_no_cookie,omitempty"`
}

const routeConfigFlags = unix.RTNH_F_ONLINK | unix.RTNH_F_PERVASIVE

// errInexact marks a route this package cannot record exactly.
var errInexact = errors.New("cannot be recorded exactly")

// recordRoute records r, whose link is named link. Routes that carry what a
// RouteRecord cannot hold (multipath, encapsulation, via, MPLS) are refused,
// so that nothing is deleted that could not be restored.
func recordRoute(r netlink.Route, link string) (RouteRecord, error) {
	switch {
	case len(r.MultiPath) > 0:
		return RouteRecord{}, fmt.Errorf("multipath route %v %w", r.Dst, errInexact)
	case r.Encap != nil, r.Via != nil, r.NewDst != nil, r.MPLSDst != nil, r.ILinkIndex != 0:
		return RouteRecord{}, fmt.Errorf("route %v with encap, via, MPLS or input interface %w", r.Dst, errInexact)
	case r.Dst == nil:
		return RouteRecord{}, fmt.Errorf("route without destination %w", errInexact)
	}
	dst, ok := ipNetPrefix(r.Dst)
	if !ok {
		return RouteRecord{}, fmt.Errorf("route to %v: bad destination", r.Dst)
	}
	rec := RouteRecord{
		Family:   familyName(r.Family),
		Table:    r.Table,
		Type:     r.Type,
		Dst:      dst.String(),
		Link:     link,
		Scope:    uint8(r.Scope),
		Protocol: int(r.Protocol),
		Metric:   r.Priority,
		Tos:      r.Tos,
		Flags:    r.Flags & routeConfigFlags,
		Realm:    r.Realm,
	}
	if r.Gw != nil {
		rec.Gw = addrOf(r.Gw).String()
	}
	if r.Src != nil {
		rec.Src = addrOf(r.Src).String()
	}
	m := RouteMetrics{
		MTU: r.MTU, MTULock: r.MTULock, Window: r.Window, Rtt: r.Rtt, RttVar: r.RttVar,
		Ssthresh: r.Ssthresh, Cwnd: r.Cwnd, AdvMSS: r.AdvMSS, Reordering: r.Reordering,
		Hoplimit: r.Hoplimit, InitCwnd: r.InitCwnd, Features: r.Features, RtoMin: r.RtoMin,
		RtoMinLock: r.RtoMinLock, InitRwnd: r.InitRwnd, QuickACK: r.QuickACK, Congctl: r.Congctl,
		FastOpenNoCookie: r.FastOpenNoCookie,
	}
	if m != (RouteMetrics{}) {
		rec.Metrics = &m
	}
	return rec, nil
}

// route is the netlink route that re-creates rec on the link with index
// linkIndex.
func (rec RouteRecord) route(linkIndex int) (netlink.Route, error) {
	family, err := familyNumber(rec.Family)
	if err != nil {
		return netlink.Route{}, err
	}
	dst, err := parsePrefix(rec.Dst, family)
	if err != nil {
		return netlink.Route{}, fmt.Errorf("route %s: %w", rec, err)
	}
	r := netlink.Route{
		LinkIndex: linkIndex,
		Family:    family,
		Table:     rec.Table,
		Type:      rec.Type,
		Dst:       &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())},
		Scope:     netlink.Scope(rec.Scope),
		Protocol:  netlink.RouteProtocol(rec.Protocol),
		Priority:  rec.Metric,
		Tos:       rec.Tos,
		Flags:     rec.Flags & routeConfigFlags,
		Realm:     rec.Realm,
	}
	for _, a := range []struct {
		s  string
		ip *net.IP
	}{{rec.Gw, &r.Gw}, {rec.Src, &r.Src}} {
		if a.s == "" {
			continue
		}
		addr, err := parseAddr(a.s, family)
		if err != nil {
			return netlink.Route{}, fmt.Errorf("route %s: %w", rec, err)
		}
		*a.ip = addr.AsSlice()
	}
	if m := rec.Metrics; m != nil {
		r.MTU, r.MTULock, r.Window, r.Rtt, r.RttVar = m.MTU, m.MTULock, m.Window, m.Rtt, m.RttVar
		r.Ssthresh, r.Cwnd, r.AdvMSS, r.Reordering = m.Ssthresh, m.Cwnd, m.AdvMSS, m.Reordering
		r.Hoplimit, r.InitCwnd, r.Features, r.RtoMin = m.Hoplimit, m.InitCwnd, m.Features, m.RtoMin
		r.RtoMinLock, r.InitRwnd, r.QuickACK, r.Congctl = m.RtoMinLock, m.InitRwnd, m.QuickACK, m.Congctl
		r.FastOpenNoCookie = m.FastOpenNoCookie
	}
	return r, nil
}

func (rec RouteRecord) key() string {
	b, _ := json.Marshal(rec) // a struct of plain fields always marshals
	return string(b)
}

// String renders the route roughly as `ip route` does, for messages.
func (rec RouteRecord) String() string {
	var b strings.Builder
	if rec.Type != unix.RTN_UNICAST {
		fmt.Fprintf(&b, "type %d ", rec.Type)
	}
	b.WriteString(rec.Dst)
	if rec.Gw != "" {
		fmt.Fprintf(&b, " via %s", rec.Gw)
	}
	fmt.Fprintf(&b, " dev %s table %d proto %d scope %d", rec.Link, rec.Table, rec.Protocol, rec.Scope)
	if rec.Metric != 0 {
		fmt.Fprintf(&b, " metric %d", rec.Metric)
	}
	if rec.Src != "" {
		fmt.Fprintf(&b, " src %s", rec.Src)
	}
	if rec.Flags&unix.RTNH_F_ONLINK != 0 {
		b.WriteString(" onlink")
	}
	return b.String()
}

func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a
}

// ipNetPrefix converts n, whose IP may be in 16-byte form even for IPv4.
func ipNetPrefix(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if bits == 32 {
		a = a.Unmap()
	}
	if bits != a.BitLen() {
		return netip.Prefix{}, false
	}
	p := netip.PrefixFrom(a, ones)
	return p, p.IsValid()
}

// maskedPrefix is s with its host bits cleared, or "" for "" (any address).
func maskedPrefix(s string) string {
	if s == "" {
		return ""
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return s
	}
	return p.Masked().String()
}

// maskedIPNet is n with its host bits cleared, or "" for nil (any address).
func maskedIPNet(n *net.IPNet) string {
	if n == nil || n.IP == nil {
		return ""
	}
	p, ok := ipNetPrefix(n)
	if !ok {
		return n.String()
	}
	return p.Masked().String()
}
