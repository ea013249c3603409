package fault

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrTargetGone means the target's network namespace no longer exists: the
// node was terminated or torn down.
var ErrTargetGone = errors.New("target gone")

// ErrHostNamespace means a fault was pointed at the network namespace this
// process (or PID 1) runs in. A chaos tool must never be the outage.
var ErrHostNamespace = errors.New("refusing to touch the host network namespace")

// netlinkTimeout bounds every netlink exchange with a node.
const netlinkTimeout = 10 * time.Second

// nodeNet is a node's network namespace, reached through netlink sockets
// opened inside it. The calling thread never changes namespace: the sockets
// are created by netlink.NewHandleAt and nl.GetNetlinkSocketAt, which lock an
// OS thread, enter the namespace only to create the socket and return before
// unlocking it.
type nodeNet struct {
	path string
	ns   netns.NsHandle
	// id identifies the namespace (nsfs device and inode).
	id nsID
	// h lists, adds and deletes routes and links.
	h *netlink.Handle
	// rules carries routing-policy rule messages, which this package
	// encodes itself: netlink.Rule drops the rule's action (blackhole,
	// unreachable, prohibit, nop), l3mdev and unknown attributes, so a
	// restore through it would not be exact.
	rules map[int]*nl.SocketHandle
}

// SelfNetNS is this process's own network namespace: a node's, when
// aftershock runs on the node itself.
const SelfNetNS = "/proc/self/ns/net"

// openNodeNet opens the network namespace at path. It fails with
// ErrTargetGone if the namespace no longer exists and with ErrHostNamespace if
// path is this process's own namespace, unless ownHost is this machine's
// host name (see NetworkdRestart.OwnHost).
func openNodeNet(path, ownHost string) (*nodeNet, error) {
	ns, err := netns.GetFromPath(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrTargetGone, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	n := &nodeNet{path: path, ns: ns}
	if err := n.check(); err != nil && !(errors.Is(err, ErrHostNamespace) && onHost(ownHost)) {
		n.Close()
		return nil, err
	}
	n.h, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("netlink handle in %s: %w", path, err)
	}
	if err := n.h.SetSocketTimeout(netlinkTimeout); err != nil {
		n.Close()
		return nil, fmt.Errorf("netlink handle in %s: %w", path, err)
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("netlink socket in %s: %w", path, err)
	}
	n.rules = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}
	tv := unix.NsecToTimeval(netlinkTimeout.Nanoseconds())
	if err := errors.Join(s.SetSendTimeout(&tv), s.SetReceiveTimeout(&tv), s.SetExtAck(true)); err != nil {
		n.Close()
		return nil, fmt.Errorf("netlink socket in %s: %w", path, err)
	}
	return n, nil
}

// check refuses a path that is not a live network namespace, or that is the
// host's.
func (n *nodeNet) check() error {
	fd := int(n.ns)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return fmt.Errorf("stat network namespace %s: %w", n.path, err)
	}
	if sfs.Type != unix.NSFS_MAGIC {
		// What `ip netns delete` leaves behind if it could unmount but
		// not remove the file: the namespace is gone.
		return fmt.Errorf("%w: %s is no longer a namespace", ErrTargetGone, n.path)
	}
	if typ, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE); err != nil || typ != unix.CLONE_NEWNET {
		return fmt.Errorf("%s is not a network namespace (type %#x, %v)", n.path, typ, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat network namespace %s: %w", n.path, err)
	}
	n.id = nsID{Dev: st.Dev, Ino: st.Ino}
	return refuseHost(n.path, n.id)
}

// onHost reports whether this machine's host name is name (never for "").
func onHost(name string) bool {
	if name == "" {
		return false
	}
	host, err := os.Hostname()
	return err == nil && host == name
}

// refuseHost fails with ErrHostNamespace if id is the network namespace of
// this process, of the calling thread or of PID 1, compared by inode.
func refuseHost(path string, id nsID) error {
	for _, host := range []string{"/proc/self/ns/net", "/proc/thread-self/ns/net", "/proc/1/ns/net"} {
		var h unix.Stat_t
		if unix.Stat(host, &h) == nil && h.Dev == id.Dev && h.Ino == id.Ino {
			return fmt.Errorf("%w: %s is %s", ErrHostNamespace, path, host)
		}
	}
	return nil
}

// Close releases the sockets and the namespace descriptor.
func (n *nodeNet) Close() {
	if n.h != nil {
		n.h.Close()
	}
	for _, s := range n.rules {
		s.Close()
	}
	n.ns.Close()
}

// linkNames maps the namespace's link indexes to names.
func (n *nodeNet) linkNames() (map[int]string, error) {
	links, err := n.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	return names, nil
}

// listRoutes returns every route of one family, in every table.
func (n *nodeNet) listRoutes(family int) ([]netlink.Route, error) {
	var routes []netlink.Route
	err := retryInterrupted(func() (err error) {
		routes, err = n.h.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list %s routes: %w", familyName(family), err)
	}
	return routes, nil
}

// retryInterrupted retries a dump that a concurrent change interrupted.
func retryInterrupted(dump func() error) error {
	var err error
	for range 5 {
		if err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}

// listRules returns every routing-policy rule of one family, in kernel order.
func (n *nodeNet) listRules(family int) ([]RuleRecord, error) {
	var msgs [][]byte
	err := retryInterrupted(func() (err error) {
		req := nl.NewNetlinkRequest(unix.RTM_GETRULE, unix.NLM_F_DUMP)
		req.Sockets = n.rules
		req.AddData(&nl.RtMsg{RtMsg: unix.RtMsg{Family: uint8(family)}})
		msgs, err = req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWRULE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list %s rules: %w", familyName(family), err)
	}
	rules := make([]RuleRecord, 0, len(msgs))
	for _, m := range msgs {
		r, err := decodeRule(m)
		if err != nil {
			return nil, fmt.Errorf("list %s rules: %w", familyName(family), err)
		}
		if r.Family == familyName(family) {
			rules = append(rules, r)
		}
	}
	return rules, nil
}

func (n *nodeNet) addRule(r RuleRecord) error {
	return n.ruleRequest(unix.RTM_NEWRULE, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK, r)
}

func (n *nodeNet) delRule(r RuleRecord) error {
	return n.ruleRequest(unix.RTM_DELRULE, unix.NLM_F_ACK, r)
}

func (n *nodeNet) ruleRequest(typ, flags int, r RuleRecord) error {
	hdr, attrs, err := encodeRule(r)
	if err != nil {
		return err
	}
	req := nl.NewNetlinkRequest(typ, flags)
	req.Sockets = n.rules
	req.AddData(&nl.RtMsg{RtMsg: hdr})
	for _, a := range attrs {
		req.AddData(a)
	}
	_, err = req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// Rule state flags the kernel reports but that are not part of a rule's
// configuration.
const ruleStateFlags = unix.FIB_RULE_PERMANENT | unix.FIB_RULE_UNRESOLVED | unix.FIB_RULE_IIF_DETACHED | unix.FIB_RULE_OIF_DETACHED

// decodeRule parses one RTM_NEWRULE message (a struct fib_rule_hdr, the same
// size as struct rtmsg, then FRA_* attributes).
func decodeRule(m []byte) (RuleRecord, error) {
	if len(m) < unix.SizeofRtMsg {
		return RuleRecord{}, fmt.Errorf("rule message of %d bytes is too short", len(m))
	}
	hdr := nl.DeserializeRtMsg(m)
	attrs, err := parseAttrs(m[unix.SizeofRtMsg:])
	if err != nil {
		return RuleRecord{}, fmt.Errorf("parse rule attributes: %w", err)
	}
	r := RuleRecord{
		Family: familyName(int(hdr.Family)),
		Action: hdr.Type, // fib_rule_hdr.action
		Table:  uint32(hdr.Table),
		Tos:    hdr.Tos,
		Flags:  hdr.Flags &^ ruleStateFlags,
	}
	bad := func(typ uint16) error { return fmt.Errorf("rule attribute %d: bad length", typ) }
	for _, a := range attrs {
		v := a.value
		typ := a.typ &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		switch typ {
		case unix.FRA_SRC, unix.FRA_DST:
			addr, ok := netip.AddrFromSlice(v)
			if !ok || (hdr.Family == unix.AF_INET && len(v) != 4) || (hdr.Family == unix.AF_INET6 && len(v) != 16) {
				return RuleRecord{}, bad(typ)
			}
			bits := hdr.Src_len
			if typ == unix.FRA_DST {
				bits = hdr.Dst_len
			}
			p := netip.PrefixFrom(addr, int(bits))
			if !p.IsValid() {
				return RuleRecord{}, bad(typ)
			}
			if typ == unix.FRA_SRC {
				r.Src = p.String()
			} else {
				r.Dst = p.String()
			}
		case unix.FRA_IIFNAME, unix.FRA_OIFNAME:
			name := unix.ByteSliceToString(v)
			if typ == unix.FRA_IIFNAME {
				r.IifName = name
			} else {
				r.OifName = name
			}
		case unix.FRA_PRIORITY, unix.FRA_TABLE, unix.FRA_FWMARK, unix.FRA_FWMASK, unix.FRA_GOTO,
			unix.FRA_FLOW, unix.FRA_SUPPRESS_PREFIXLEN, unix.FRA_SUPPRESS_IFGROUP:
			if len(v) != 4 {
				return RuleRecord{}, bad(typ)
			}
			x := nl.NativeEndian().Uint32(v)
			switch typ {
			case unix.FRA_PRIORITY:
				r.Priority = x
			case unix.FRA_TABLE:
				r.Table = x
			case unix.FRA_FWMARK:
				r.Mark = &x
			case unix.FRA_FWMASK:
				r.Mask = &x
			case unix.FRA_GOTO:
				r.Goto = &x
			case unix.FRA_FLOW:
				r.Realms = &x
			case unix.FRA_SUPPRESS_PREFIXLEN:
				if x != ^uint32(0) {
					r.SuppressPrefixlen = &x
				}
			case unix.FRA_SUPPRESS_IFGROUP:
				if x != ^uint32(0) {
					r.SuppressIfgroup = &x
				}
			}
		case unix.FRA_PROTOCOL, unix.FRA_L3MDEV, unix.FRA_IP_PROTO:
			if len(v) != 1 {
				return RuleRecord{}, bad(typ)
			}
			x := v[0]
			switch typ {
			case unix.FRA_PROTOCOL:
				r.Protocol = x
			case unix.FRA_L3MDEV:
				r.L3mdev = &x
			case unix.FRA_IP_PROTO:
				r.IPProto = &x
			}
		case unix.FRA_TUN_ID:
			if len(v) != 8 {
				return RuleRecord{}, bad(typ)
			}
			x := binary.BigEndian.Uint64(v)
			r.TunID = &x
		case unix.FRA_SPORT_RANGE, unix.FRA_DPORT_RANGE:
			if len(v) != 4 {
				return RuleRecord{}, bad(typ)
			}
			pr := &PortRange{Start: nl.NativeEndian().Uint16(v[0:2]), End: nl.NativeEndian().Uint16(v[2:4])}
			if typ == unix.FRA_SPORT_RANGE {
				r.Sport = pr
			} else {
				r.Dport = pr
			}
		case unix.FRA_UID_RANGE:
			if len(v) != 8 {
				return RuleRecord{}, bad(typ)
			}
			r.UIDRange = &UIDRange{Start: nl.NativeEndian().Uint32(v[0:4]), End: nl.NativeEndian().Uint32(v[4:8])}
		case unix.FRA_PAD:
		default:
			// Attributes newer than this code (DSCP, flow label, port
			// masks, …) are kept verbatim and sent back as they came.
			r.Extra = append(r.Extra, RawAttr{Type: a.typ, Value: hex.EncodeToString(v)})
		}
	}
	return r, nil
}

type attr struct {
	typ   uint16
	value []byte
}

// parseAttrs splits netlink attributes. Unlike nl.ParseRouteAttr, it returns
// an error, not a panic, on a truncated attribute.
func parseAttrs(b []byte) ([]attr, error) {
	var attrs []attr
	for len(b) > 0 {
		if len(b) < unix.SizeofRtAttr {
			return nil, fmt.Errorf("%d trailing bytes", len(b))
		}
		l := int(nl.NativeEndian().Uint16(b[0:2]))
		if l < unix.SizeofRtAttr || l > len(b) {
			return nil, fmt.Errorf("attribute of length %d in %d bytes", l, len(b))
		}
		attrs = append(attrs, attr{typ: nl.NativeEndian().Uint16(b[2:4]), value: b[unix.SizeofRtAttr:l]})
		b = b[min((l+unix.NLA_ALIGNTO-1)&^(unix.NLA_ALIGNTO-1), len(b)):]
	}
	return attrs, nil
}

// encodeRule is the header and attributes that re-create (or delete) r.
func encodeRule(r RuleRecord) (unix.RtMsg, []*nl.RtAttr, error) {
	family, err := familyNumber(r.Family)
	if err != nil {
		return unix.RtMsg{}, nil, err
	}
	hdr := unix.RtMsg{Family: uint8(family), Tos: r.Tos, Type: r.Action, Flags: r.Flags &^ ruleStateFlags}
	if r.Table < 256 {
		hdr.Table = uint8(r.Table)
	}
	u32 := func(x uint32) []byte { return nl.Uint32Attr(x) }
	var attrs []*nl.RtAttr
	for _, p := range []struct {
		typ    int
		prefix string
		bits   *uint8
	}{{unix.FRA_SRC, r.Src, &hdr.Src_len}, {unix.FRA_DST, r.Dst, &hdr.Dst_len}} {
		if p.prefix == "" {
			continue
		}
		pfx, err := parsePrefix(p.prefix, family)
		if err != nil {
			return unix.RtMsg{}, nil, fmt.Errorf("rule %s: %w", r, err)
		}
		*p.bits = uint8(pfx.Bits())
		attrs = append(attrs, nl.NewRtAttr(p.typ, pfx.Addr().AsSlice()))
	}
	// Always send the priority: without it the kernel picks one, and 0
	// (the local rule's) is a real priority.
	attrs = append(attrs,
		nl.NewRtAttr(unix.FRA_PRIORITY, u32(r.Priority)),
		nl.NewRtAttr(unix.FRA_TABLE, u32(r.Table)),
		nl.NewRtAttr(unix.FRA_PROTOCOL, []byte{r.Protocol}),
	)
	if r.IifName != "" {
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_IIFNAME, nl.ZeroTerminated(r.IifName)))
	}
	if r.OifName != "" {
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_OIFNAME, nl.ZeroTerminated(r.OifName)))
	}
	for _, o := range []struct {
		typ int
		v   *uint32
	}{
		{unix.FRA_FWMARK, r.Mark}, {unix.FRA_FWMASK, r.Mask}, {unix.FRA_GOTO, r.Goto}, {unix.FRA_FLOW, r.Realms},
		{unix.FRA_SUPPRESS_PREFIXLEN, r.SuppressPrefixlen}, {unix.FRA_SUPPRESS_IFGROUP, r.SuppressIfgroup},
	} {
		if o.v != nil {
			attrs = append(attrs, nl.NewRtAttr(o.typ, u32(*o.v)))
		}
	}
	if r.TunID != nil {
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_TUN_ID, nl.BEUint64Attr(*r.TunID)))
	}
	if r.L3mdev != nil {
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_L3MDEV, []byte{*r.L3mdev}))
	}
	if r.IPProto != nil {
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_IP_PROTO, []byte{*r.IPProto}))
	}
	for _, p := range []struct {
		typ int
		v   *PortRange
	}{{unix.FRA_SPORT_RANGE, r.Sport}, {unix.FRA_DPORT_RANGE, r.Dport}} {
		if p.v != nil {
			attrs = append(attrs, nl.NewRtAttr(p.typ, append(nl.Uint16Attr(p.v.Start), nl.Uint16Attr(p.v.End)...)))
		}
	}
	if r.UIDRange != nil {
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_UID_RANGE, append(u32(r.UIDRange.Start), u32(r.UIDRange.End)...)))
	}
	for _, x := range r.Extra {
		v, err := hex.DecodeString(x.Value)
		if err != nil {
			return unix.RtMsg{}, nil, fmt.Errorf("rule %s: attribute %d: %w", r, x.Type, err)
		}
		attrs = append(attrs, nl.NewRtAttr(int(x.Type), v))
	}
	return hdr, attrs, nil
}

func familyName(family int) string {
	switch family {
	case unix.AF_INET:
		return "inet"
	case unix.AF_INET6:
		return "inet6"
	}
	return fmt.Sprintf("family-%d", family)
}

func familyNumber(name string) (int, error) {
	switch name {
	case "inet":
		return unix.AF_INET, nil
	case "inet6":
		return unix.AF_INET6, nil
	}
	return 0, fmt.Errorf("unknown address family %q", name)
}

// parsePrefix parses a CIDR of the given family, keeping any host bits (the
// kernel keeps them too).
func parsePrefix(s string, family int) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if (family == unix.AF_INET) != p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%s is not an %s prefix", s, familyName(family))
	}
	return p, nil
}

func parseAddr(s string, family int) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if (family == unix.AF_INET) != a.Is4() {
		return netip.Addr{}, fmt.Errorf("%s is not an %s address", s, familyName(family))
	}
	return a, nil
}
