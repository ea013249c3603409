package fault

import (
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

func u32p(x uint32) *uint32 { return &x }
func u8p(x uint8) *uint8    { return &x }

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIsForeignRule(t *testing.T) {
	cilium := RuleRecord{Family: "inet", Priority: 111, Action: unix.FR_ACT_TO_TBL, Table: 2004, Src: "10.9.0.10/32"}
	with := func(r RuleRecord, edit func(*RuleRecord)) RuleRecord { edit(&r); return r }
	declared := func(edit func(*netlink.Rule)) NetworkdConfig {
		cfg := DefaultNetworkdConfig()
		d := netlink.NewRule()
		d.Priority, d.Table, d.Src = 111, 2004, mustCIDR(t, "10.9.0.10/32")
		edit(d)
		cfg.DeclaredRules = []netlink.Rule{*d}
		return cfg
	}
	tests := []struct {
		name string
		cfg  NetworkdConfig
		rule RuleRecord
		want bool
	}{
		{"Cilium rule, protocol unspec", DefaultNetworkdConfig(), cilium, true},
		{"protocol boot", DefaultNetworkdConfig(), with(cilium, func(r *RuleRecord) { r.Protocol = unix.RTPROT_BOOT }), true},
		{"protocol static", DefaultNetworkdConfig(), with(cilium, func(r *RuleRecord) { r.Protocol = unix.RTPROT_STATIC }), true},
		{"protocol kernel (the kernel's defaults)", DefaultNetworkdConfig(), with(cilium, func(r *RuleRecord) { r.Protocol = unix.RTPROT_KERNEL }), false},
		{"management off", NetworkdConfig{}, cilium, false},
		{"declared", declared(func(*netlink.Rule) {}), cilium, false},
		{"declared, whatever the protocol", declared(func(*netlink.Rule) {}), with(cilium, func(r *RuleRecord) { r.Protocol = unix.RTPROT_BOOT }), false},
		{"declared at another priority", declared(func(d *netlink.Rule) { d.Priority = 112 }), cilium, true},
		{"declared for another table", declared(func(d *netlink.Rule) { d.Table = 2005 }), cilium, true},
		{"declared from another source", declared(func(d *netlink.Rule) { d.Src = mustCIDR(t, "10.9.0.11/32") }), cilium, true},
		{"declared from any source", declared(func(d *netlink.Rule) { d.Src = nil }), cilium, true},
		{"declared with a destination", declared(func(d *netlink.Rule) { d.Dst = mustCIDR(t, "10.0.0.0/8") }), cilium, true},
		{"declared for IPv6 only", declared(func(d *netlink.Rule) { d.Family = unix.AF_INET6 }), cilium, true},
		{"declared for IPv4", declared(func(d *netlink.Rule) { d.Family = unix.AF_INET }), cilium, false},
		{"declared with any priority and table", declared(func(d *netlink.Rule) { d.Priority, d.Table = -1, 0 }), cilium, false},
		{
			"declared with host bits",
			declared(func(d *netlink.Rule) { d.Src = &net.IPNet{IP: net.ParseIP("10.3.0.7"), Mask: net.CIDRMask(16, 32)} }),
			with(cilium, func(r *RuleRecord) { r.Src = "10.3.0.7/16" }),
			false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.isForeignRule(tt.rule); got != tt.want {
				t.Fatalf("isForeignRule(%s) = %v, want %v", tt.rule, got, tt.want)
			}
		})
	}
}

func TestIsForeignRoute(t *testing.T) {
	route := netlink.Route{Protocol: unix.RTPROT_BOOT, Table: 2004}
	tests := []struct {
		name  string
		cfg   NetworkdConfig
		proto int
		link  string
		want  bool
	}{
		{"boot route on eth0", DefaultNetworkdConfig(), unix.RTPROT_BOOT, "eth0", true},
		{"static route on eth0", DefaultNetworkdConfig(), unix.RTPROT_STATIC, "eth0", true},
		{"kernel route on eth0", DefaultNetworkdConfig(), unix.RTPROT_KERNEL, "eth0", false},
		{"route on an unmanaged link", DefaultNetworkdConfig(), unix.RTPROT_BOOT, "lxc123", false},
		{"routes management off", NetworkdConfig{ManageForeignRoutingPolicyRules: true, ManagedLinks: []string{"eth0"}}, unix.RTPROT_BOOT, "eth0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := route
			r.Protocol = netlink.RouteProtocol(tt.proto)
			if got := tt.cfg.isForeignRoute(r, tt.link); got != tt.want {
				t.Fatalf("isForeignRoute = %v, want %v", got, tt.want)
			}
		})
	}
}

// wire is the netlink message encodeRule's output makes, as the kernel reads
// it.
func wire(t *testing.T, r RuleRecord) []byte {
	t.Helper()
	hdr, attrs, err := encodeRule(r)
	if err != nil {
		t.Fatal(err)
	}
	b := (&nl.RtMsg{RtMsg: hdr}).Serialize()
	for _, a := range attrs {
		b = append(b, a.Serialize()...)
	}
	return b
}

func TestRuleCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rule RuleRecord
	}{
		{"Cilium from rule", RuleRecord{Family: "inet", Priority: 111, Action: unix.FR_ACT_TO_TBL, Table: 2004, Src: "10.9.0.10/32"}},
		{"Cilium local rule", RuleRecord{Family: "inet", Priority: 100, Action: unix.FR_ACT_TO_TBL, Table: unix.RT_TABLE_LOCAL}},
		{"priority 0", RuleRecord{Family: "inet", Priority: 0, Action: unix.FR_ACT_TO_TBL, Table: unix.RT_TABLE_LOCAL, Protocol: unix.RTPROT_BOOT}},
		{"IPv6", RuleRecord{Family: "inet6", Priority: 111, Action: unix.FR_ACT_TO_TBL, Table: 2004, Src: "fd00:9::10/128", Dst: "fd00::/8"}},
		{"table above 255", RuleRecord{Family: "inet", Priority: 310, Action: unix.FR_ACT_TO_TBL, Table: 100000}},
		{"host bits kept", RuleRecord{Family: "inet", Priority: 306, Action: unix.FR_ACT_TO_TBL, Table: 254, Src: "10.3.0.7/16"}},
		{"unreachable", RuleRecord{Family: "inet", Priority: 202, Action: unix.FR_ACT_UNREACHABLE, Src: "10.2.0.0/16"}},
		{"goto", RuleRecord{Family: "inet", Priority: 205, Action: unix.FR_ACT_GOTO, Goto: u32p(300)}},
		{"everything", RuleRecord{
			Family: "inet", Priority: 200, Action: unix.FR_ACT_TO_TBL, Table: 2004, Protocol: unix.RTPROT_STATIC,
			Flags: unix.FIB_RULE_INVERT, Tos: 0x10, Src: "10.1.0.0/16", Dst: "10.2.0.0/16", IifName: "eth0", OifName: "lo",
			Mark: u32p(0x10), Mask: u32p(0xff), Realms: u32p(5), SuppressPrefixlen: u32p(0), SuppressIfgroup: u32p(5),
			TunID: func() *uint64 { x := uint64(7); return &x }(), L3mdev: u8p(1), IPProto: u8p(unix.IPPROTO_TCP),
			Sport: &PortRange{Start: 1000, End: 1000}, Dport: &PortRange{Start: 80, End: 90}, UIDRange: &UIDRange{Start: 100, End: 200},
			Extra: []RawAttr{{Type: 25, Value: "0a000000"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRule(wire(t, tt.rule))
			if err != nil {
				t.Fatal(err)
			}
			if got.key() != tt.rule.key() {
				t.Fatalf("round trip\n got %s\nwant %s", got.key(), tt.rule.key())
			}
		})
	}
}

func TestEncodeRuleRefusesBadRecords(t *testing.T) {
	for _, r := range []RuleRecord{
		{Family: "ipx", Priority: 1},
		{Family: "inet", Src: "fd00::/8"},
		{Family: "inet6", Dst: "10.0.0.0/8"},
		{Family: "inet", Src: "10.0.0.0/33"},
		{Family: "inet", Extra: []RawAttr{{Type: 30, Value: "zz"}}},
	} {
		if _, _, err := encodeRule(r); err == nil {
			t.Errorf("encodeRule(%+v) succeeded, want an error", r)
		}
	}
}

func TestDecodeRuleRefusesMalformed(t *testing.T) {
	good := wire(t, RuleRecord{Family: "inet", Priority: 1, Action: 1, Table: 254, Src: "10.0.0.0/8"})
	for name, m := range map[string][]byte{
		"empty":            nil,
		"short header":     good[:5],
		"truncated attr":   good[:len(good)-4],
		"priority 2 bytes": append((&nl.RtMsg{RtMsg: unix.RtMsg{Family: unix.AF_INET}}).Serialize(), nl.NewRtAttr(unix.FRA_PRIORITY, []byte{1, 2}).Serialize()...),
		"src 3 bytes":      append((&nl.RtMsg{RtMsg: unix.RtMsg{Family: unix.AF_INET, Src_len: 8}}).Serialize(), nl.NewRtAttr(unix.FRA_SRC, []byte{1, 2, 3}).Serialize()...),
		"src_len 40":       append((&nl.RtMsg{RtMsg: unix.RtMsg{Family: unix.AF_INET, Src_len: 40}}).Serialize(), nl.NewRtAttr(unix.FRA_SRC, []byte{1, 2, 3, 4}).Serialize()...),
	} {
		t.Run(name, func(t *testing.T) {
			if r, err := decodeRule(m); err == nil {
				t.Fatalf("decodeRule accepted %s as %s", hex.EncodeToString(m), r)
			}
		})
	}
}

// FuzzDecodeRule checks that no message from the kernel can crash a fault,
// and that whatever decodes re-encodes to the same rule.
func FuzzDecodeRule(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, unix.SizeofRtMsg))
	for _, r := range []RuleRecord{
		{Family: "inet", Priority: 111, Action: 1, Table: 2004, Src: "10.9.0.10/32"},
		{Family: "inet6", Priority: 5, Action: 2, Goto: u32p(9), Dport: &PortRange{1, 2}, Extra: []RawAttr{{Type: 40, Value: "01"}}},
	} {
		hdr, attrs, _ := encodeRule(r)
		b := (&nl.RtMsg{RtMsg: hdr}).Serialize()
		for _, a := range attrs {
			b = append(b, a.Serialize()...)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, m []byte) {
		r, err := decodeRule(m)
		if err != nil {
			return
		}
		if r.Family != "inet" && r.Family != "inet6" {
			return // the caller drops other families
		}
		hdr, attrs, err := encodeRule(r)
		if err != nil {
			t.Fatalf("decoded %s but cannot encode it: %v", r.key(), err)
		}
		b := (&nl.RtMsg{RtMsg: hdr}).Serialize()
		for _, a := range attrs {
			b = append(b, a.Serialize()...)
		}
		again, err := decodeRule(b)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", r.key(), err)
		}
		if again.key() != r.key() {
			t.Fatalf("round trip\n got %s\nwant %s", again.key(), r.key())
		}
	})
}

func TestRouteRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		route netlink.Route
		want  string // the record's String
	}{
		{
			"link route",
			netlink.Route{Family: unix.AF_INET, Table: 2004, Type: unix.RTN_UNICAST, Dst: mustCIDR(t, "10.9.0.0/16"), Scope: netlink.SCOPE_LINK, Protocol: unix.RTPROT_BOOT, Flags: unix.RTNH_F_LINKDOWN},
			"10.9.0.0/16 dev eth0 table 2004 proto 3 scope 253",
		},
		{
			// netlink lists a default route with a 16-byte 0.0.0.0.
			"default via, onlink",
			netlink.Route{Family: unix.AF_INET, Table: 2004, Type: unix.RTN_UNICAST, Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}, Gw: net.IP{10, 9, 0, 1}, Protocol: unix.RTPROT_BOOT, Flags: unix.RTNH_F_ONLINK},
			"0.0.0.0/0 via 10.9.0.1 dev eth0 table 2004 proto 3 scope 0 onlink",
		},
		{
			"IPv6 with metric, source and metrics",
			netlink.Route{Family: unix.AF_INET6, Table: 254, Type: unix.RTN_UNICAST, Dst: mustCIDR(t, "fd00:9::/64"), Src: net.ParseIP("fd00:9::10"), Protocol: unix.RTPROT_STATIC, Priority: 1024, MTU: 1400, MTULock: true, AdvMSS: 1360, Congctl: "bbr"},
			"fd00:9::/64 dev eth0 table 254 proto 4 scope 0 metric 1024 src fd00:9::10",
		},
		{
			"local route",
			netlink.Route{Family: unix.AF_INET, Table: 255, Type: unix.RTN_LOCAL, Dst: mustCIDR(t, "10.1.1.1/32"), Scope: netlink.SCOPE_HOST, Protocol: unix.RTPROT_BOOT},
			"type 2 10.1.1.1/32 dev eth0 table 255 proto 3 scope 254",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := recordRoute(tt.route, "eth0")
			if err != nil {
				t.Fatal(err)
			}
			if rec.String() != tt.want {
				t.Errorf("record %q, want %q", rec, tt.want)
			}
			r, err := rec.route(7)
			if err != nil {
				t.Fatal(err)
			}
			if r.LinkIndex != 7 {
				t.Errorf("link index %d, want 7", r.LinkIndex)
			}
			again, err := recordRoute(r, "eth0")
			if err != nil {
				t.Fatal(err)
			}
			if again.key() != rec.key() {
				t.Fatalf("round trip\n got %s\nwant %s", again.key(), rec.key())
			}
		})
	}
}

func TestRecordRouteRefusesWhatItCannotRestore(t *testing.T) {
	dst := mustCIDR(t, "10.0.0.0/8")
	for name, r := range map[string]netlink.Route{
		"multipath": {Family: unix.AF_INET, Dst: dst, MultiPath: []*netlink.NexthopInfo{{LinkIndex: 2}}},
		"via":       {Family: unix.AF_INET, Dst: dst, Via: &netlink.Via{AddrFamily: unix.AF_INET6, Addr: net.ParseIP("fe80::1")}},
		"encap":     {Family: unix.AF_INET, Dst: dst, Encap: &netlink.MPLSEncap{Labels: []int{100}}},
		"iif":       {Family: unix.AF_INET, Dst: dst, ILinkIndex: 3},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := recordRoute(r, "eth0"); !errors.Is(err, errInexact) {
				t.Fatalf("recordRoute = %v, want errInexact", err)
			}
		})
	}
}

func TestRuleString(t *testing.T) {
	r := RuleRecord{Family: "inet", Priority: 111, Action: unix.FR_ACT_TO_TBL, Table: 2004, Src: "10.9.0.10/32"}
	if got, want := r.String(), "111: from 10.9.0.10/32 lookup 2004 proto 0"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	r = RuleRecord{Family: "inet6", Priority: 5, Action: unix.FR_ACT_BLACKHOLE, Flags: unix.FIB_RULE_INVERT, Mark: u32p(1)}
	if got := r.String(); !strings.Contains(got, "inet6 not from all") || !strings.Contains(got, "blackhole") {
		t.Errorf("String() = %q", got)
	}
}
