package fault

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/aftershock-sre/aftershock/experiments/journal"
)

// NetworkdRestartName is the networkd-restart fault's name, in journals and
// reports.
const NetworkdRestartName = "networkd-restart"

// NetworkdConfig is the part of a node's systemd-networkd configuration that
// decides what a restart removes.
type NetworkdConfig struct {
	// ManageForeignRoutingPolicyRules is networkd.conf's
	// ManageForeignRoutingPolicyRules= (systemd default: true). False is the
	// 2023 fix: the restart leaves rules alone.
	ManageForeignRoutingPolicyRules bool
	// ManageForeignRoutes is networkd.conf's ManageForeignRoutes=
	// (systemd default: true).
	ManageForeignRoutes bool
	// DeclaredRules are the rules the node's .network files declare
	// ([RoutingPolicyRule] sections): networkd keeps them. A declared rule
	// matches a rule of the same priority, table, source and destination,
	// whatever its protocol; Priority < 0 and Table <= 0 match any, and
	// Family 0 matches both families.
	DeclaredRules []netlink.Rule
	// ManagedLinks are the links networkd manages (a .network file matches
	// them). Foreign-route removal applies to routes on these links only.
	ManagedLinks []string
}

// DefaultNetworkdConfig is systemd's default configuration on a node whose
// eth0 is managed by networkd, as on a lab node: both Manage* settings on, no
// declared rules.
func DefaultNetworkdConfig() NetworkdConfig {
	return NetworkdConfig{
		ManageForeignRoutingPolicyRules: true,
		ManageForeignRoutes:             true,
		ManagedLinks:                    []string{"eth0"},
	}
}

// isForeignRule reports whether networkd would remove r on restart: rules
// management is on, r was not installed by the kernel (the default rules
// carry protocol kernel), and no .network file declares it.
func (c NetworkdConfig) isForeignRule(r RuleRecord) bool {
	if !c.ManageForeignRoutingPolicyRules || r.Protocol == unix.RTPROT_KERNEL {
		return false
	}
	for _, d := range c.DeclaredRules {
		if declares(d, r) {
			return false
		}
	}
	return true
}

func declares(d netlink.Rule, r RuleRecord) bool {
	switch {
	case d.Family != 0 && familyName(d.Family) != r.Family,
		d.Priority >= 0 && uint32(d.Priority) != r.Priority,
		d.Table > 0 && uint32(d.Table) != r.Table,
		maskedIPNet(d.Src) != maskedPrefix(r.Src),
		maskedIPNet(d.Dst) != maskedPrefix(r.Dst):
		return false
	}
	return true
}

// isForeignRoute reports whether networkd would remove r, on the link named
// link, on restart: routes management is on, r is on a managed link and the
// kernel did not install it.
func (c NetworkdConfig) isForeignRoute(r netlink.Route, link string) bool {
	return c.ManageForeignRoutes && r.Protocol != unix.RTPROT_KERNEL && slices.Contains(c.ManagedLinks, link)
}

// isForeignMultipath reports whether r is a multipath route with a nexthop on
// a managed link, which networkd would remove but a snapshot cannot hold.
func (c NetworkdConfig) isForeignMultipath(r netlink.Route, names map[int]string) bool {
	if !c.ManageForeignRoutes || r.Protocol == unix.RTPROT_KERNEL {
		return false
	}
	for _, nh := range r.MultiPath {
		if slices.Contains(c.ManagedLinks, names[nh.LinkIndex]) {
			return true
		}
	}
	return false
}

// NetworkdRestart is a restart of systemd-networkd ≥ v248 on one node: it
// deletes every foreign routing-policy rule (and, with ManageForeignRoutes,
// every foreign route on a managed link) in the node's network namespace,
// which is what flushed Cilium's rules in 2023.
//
// Inject snapshots what it will delete, journals the snapshot, then deletes
// rules, then routes. Revert re-adds routes, then rules, skipping any that are
// present. Whatever Inject returns, Revert restores what it removed.
type NetworkdRestart struct {
	// Node names the target in errors, journals and reports.
	Node string
	// NetNSPath is the node's network namespace, e.g. /run/netns/<name> or
	// /proc/<pid>/ns/net.
	NetNSPath string
	// Config is the node's networkd configuration.
	Config NetworkdConfig
	// Journal, if not nil, records every step before it happens.
	Journal *journal.Journal
	// ID identifies this injection in the journal; required with a Journal.
	ID string
	// Interlock, if not nil, must admit the node's namespace, or Inject
	// refuses it with ErrNotThisRun before it reads or changes anything.
	// The host's namespace is refused either way, unless OwnHost allows it.
	Interlock *Interlock
	// OwnHost, if set, lets the fault act on this process's own network
	// namespace, but only while this machine's host name is OwnHost: it is
	// aftershock running on the target node itself, through the node's exec
	// command (aftershock inject --self on a real node). Every other way to
	// the host's namespace stays refused.
	OwnHost string

	mu    sync.Mutex
	snap  *NetworkdSnapshot // nil until an Inject has journalled it
	state string            // a journal.State*, or "" before Inject
	// inode is the inode of the namespace Inject acted on (0: unknown),
	// so that Revert can tell that the path now leads to another one.
	inode uint64

	// beforeDelete, if set, runs after the "injecting" entry is written
	// and before anything is deleted (tests observe that moment).
	beforeDelete func()
}

var _ Fault = (*NetworkdRestart)(nil)

// NewNetworkdRestart returns the fault for the node whose network namespace
// is at netnsPath. j may be nil (no journal); otherwise id must be unique per
// injection, e.g. "<run>/<node>/networkd-restart/<n>".
func NewNetworkdRestart(node, netnsPath string, cfg NetworkdConfig, j *journal.Journal, id string) *NetworkdRestart {
	return &NetworkdRestart{Node: node, NetNSPath: netnsPath, Config: cfg, Journal: j, ID: id}
}

// Name is "networkd-restart".
func (f *NetworkdRestart) Name() string { return NetworkdRestartName }

// Target is the node.
func (f *NetworkdRestart) Target() string { return f.Node }

// Snapshot returns what the last Inject removed (or set out to remove), and
// false before any Inject got that far.
func (f *NetworkdRestart) Snapshot() (NetworkdSnapshot, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snap == nil {
		return NetworkdSnapshot{}, false
	}
	s := *f.snap
	s.Rules = slices.Clone(s.Rules)
	s.Routes = slices.Clone(s.Routes)
	return s, true
}

func (f *NetworkdRestart) fail(op string, err error) error {
	return &TargetError{Op: op, Fault: NetworkdRestartName, Target: f.Node, Err: err}
}

// Inject does what a networkd restart does to the node. It refuses the host's
// namespace, any namespace its Interlock (if set) does not admit, and to run
// twice without a Revert in between. Before it
// deletes anything it journals "injecting" with the snapshot; if that fails,
// nothing is deleted. A failed delete is journalled as "failed", and the
// error names the node and the rule or route.
func (f *NetworkdRestart) Inject(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snap != nil && f.state != journal.StateReverted {
		return f.fail("inject", fmt.Errorf("already injected (%s): revert first", f.state))
	}
	if f.Journal != nil && f.ID == "" {
		return f.fail("inject", errors.New("a journalled fault needs an ID"))
	}
	if err := ctx.Err(); err != nil {
		return f.fail("inject", err)
	}
	n, err := openNodeNet(f.NetNSPath, f.OwnHost)
	if err != nil {
		return f.fail("inject", err)
	}
	defer n.Close()
	if f.Interlock != nil {
		if err := f.Interlock.check(f.NetNSPath, n.id); err != nil {
			return f.fail("inject", err)
		}
	}
	f.inode = n.id.Ino

	snap, routes, err := f.capture(n)
	if err != nil {
		return f.fail("inject", fmt.Errorf("snapshot (nothing deleted): %w", err))
	}
	if err := f.record(journal.StateInjecting, &snap, ""); err != nil {
		return f.fail("inject", fmt.Errorf("journal the snapshot (nothing deleted): %w", err))
	}
	f.snap, f.state = &snap, journal.StateInjecting
	if f.beforeDelete != nil {
		f.beforeDelete()
	}
	if err := flush(ctx, n, *f.snap, routes); err != nil {
		f.state = journal.StateFailed
		return f.fail("inject", errors.Join(err, f.record(journal.StateFailed, f.snap, err.Error())))
	}
	f.state = journal.StateInjected
	if err := f.record(journal.StateInjected, f.snap, ""); err != nil {
		return f.fail("inject", fmt.Errorf("everything foreign was deleted, but: %w", err))
	}
	return nil
}

// capture lists the node's rules and routes and keeps the foreign ones. It
// returns the routes as listed too, so that deletes match the kernel's
// routes exactly.
func (f *NetworkdRestart) capture(n *nodeNet) (NetworkdSnapshot, []netlink.Route, error) {
	snap := NetworkdSnapshot{Version: snapshotVersion, Rules: []RuleRecord{}, Routes: []RouteRecord{}}
	cfg := f.Config
	if cfg.ManageForeignRoutingPolicyRules {
		for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
			rules, err := n.listRules(family)
			if err != nil {
				return snap, nil, err
			}
			for _, r := range rules {
				if cfg.isForeignRule(r) {
					snap.Rules = append(snap.Rules, r)
				}
			}
		}
	}
	var routes []netlink.Route
	if cfg.ManageForeignRoutes && len(cfg.ManagedLinks) > 0 {
		names, err := n.linkNames()
		if err != nil {
			return snap, nil, err
		}
		for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
			listed, err := n.listRoutes(family)
			if err != nil {
				return snap, nil, err
			}
			for _, r := range listed {
				if cfg.isForeignMultipath(r, names) {
					return snap, nil, fmt.Errorf("foreign multipath route to %v in table %d %w", r.Dst, r.Table, errInexact)
				}
				link := names[r.LinkIndex]
				if r.LinkIndex == 0 || !cfg.isForeignRoute(r, link) {
					continue
				}
				rec, err := recordRoute(r, link)
				if err != nil {
					return snap, nil, fmt.Errorf("foreign %w", err)
				}
				snap.Routes = append(snap.Routes, rec)
				routes = append(routes, r)
			}
		}
	}
	return snap, routes, nil
}

// flush deletes the snapshot's rules, then its routes. Something already gone
// is not an error: networkd would have deleted it anyway.
func flush(ctx context.Context, n *nodeNet, snap NetworkdSnapshot, routes []netlink.Route) error {
	for _, r := range snap.Rules {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("flush rules: interrupted before rule %s: %w", r, err)
		}
		if err := n.delRule(r); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("flush rules: delete rule %s: %w", r, err)
		}
	}
	for i := range routes {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("flush routes: interrupted before route %s: %w", snap.Routes[i], err)
		}
		if err := n.h.RouteDel(&routes[i]); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("flush routes: delete route %s: %w", snap.Routes[i], err)
		}
	}
	return nil
}

// Revert re-adds every route, then every rule, of the snapshot that is not
// present now; "file exists" counts as present. Once a Revert has succeeded,
// further calls do nothing, and Revert before Inject does nothing. If the
// node's namespace no longer exists, Revert succeeds and journals "reverted"
// with the error "target gone: <path>"; if the path now leads to another
// namespace than the one injected (compared by inode: the node was
// replaced), Revert touches nothing, succeeds and journals "reverted" with
// "target replaced: …". It journals "reverting" first, and restores even if
// that write fails.
func (f *NetworkdRestart) Revert(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snap == nil || f.state == journal.StateReverted {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return f.fail("revert", err)
	}
	n, err := openNodeNet(f.NetNSPath, f.OwnHost)
	if errors.Is(err, ErrTargetGone) {
		f.state = journal.StateReverted
		if err := f.record(journal.StateReverted, f.snap, "target gone: "+f.NetNSPath); err != nil {
			return f.fail("revert", err)
		}
		return nil
	}
	if err != nil {
		return f.fail("revert", err)
	}
	defer n.Close()
	if f.inode != 0 && n.id.Ino != f.inode {
		f.state = journal.StateReverted
		note := fmt.Sprintf("%v: %s is now namespace inode %d, injected into inode %d: not touched", ErrTargetReplaced, f.NetNSPath, n.id.Ino, f.inode)
		if err := f.record(journal.StateReverted, f.snap, note); err != nil {
			return f.fail("revert", err)
		}
		return nil
	}

	journalErr := f.record(journal.StateReverting, f.snap, "")
	f.state = journal.StateReverting
	if err := restore(ctx, n, *f.snap); err != nil {
		f.state = journal.StateFailed
		return f.fail("revert", errors.Join(err, journalErr, f.record(journal.StateFailed, f.snap, err.Error())))
	}
	f.state = journal.StateReverted
	if err := errors.Join(journalErr, f.record(journal.StateReverted, f.snap, "")); err != nil {
		return f.fail("revert", fmt.Errorf("everything was restored, but: %w", err))
	}
	return nil
}

// restore re-adds what is missing: routes first (so that no rule points at an
// empty table), links' routes before gateway routes, then rules by priority.
// It carries on past failures and reports them all.
func restore(ctx context.Context, n *nodeNet, snap NetworkdSnapshot) error {
	var errs []error
	if len(snap.Routes) > 0 {
		errs = append(errs, restoreRoutes(ctx, n, snap.Routes))
	}
	if len(snap.Rules) > 0 {
		errs = append(errs, restoreRules(ctx, n, snap.Rules))
	}
	return errors.Join(errs...)
}

func restoreRoutes(ctx context.Context, n *nodeNet, want []RouteRecord) error {
	names, err := n.linkNames()
	if err != nil {
		return fmt.Errorf("restore routes: %w", err)
	}
	index := make(map[string]int, len(names))
	for i, name := range names {
		index[name] = i
	}
	present := map[string]bool{}
	for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
		routes, err := n.listRoutes(family)
		if err != nil {
			return fmt.Errorf("restore routes: %w", err)
		}
		for _, r := range routes {
			if rec, err := recordRoute(r, names[r.LinkIndex]); err == nil {
				present[rec.key()] = true
			}
		}
	}
	var pending []RouteRecord
	for _, rec := range want {
		if !present[rec.key()] {
			pending = append(pending, rec)
		}
	}
	// A gateway needs a route to it, unless onlink: add link routes first,
	// and retry what failed for as long as something else succeeds.
	slices.SortStableFunc(pending, func(a, b RouteRecord) int {
		return cmp.Compare(len(a.Gw), len(b.Gw))
	})
	var failed, errs []error // failed: will not succeed on a retry
	for len(pending) > 0 {
		var retry []RouteRecord
		errs = errs[:0]
		added := 0
		for _, rec := range pending {
			if err := ctx.Err(); err != nil {
				return errors.Join(append(failed, fmt.Errorf("restore routes: interrupted before route %s: %w", rec, err))...)
			}
			idx, ok := index[rec.Link]
			if !ok {
				failed = append(failed, fmt.Errorf("restore route %s: link %s not found", rec, rec.Link))
				continue
			}
			r, err := rec.route(idx)
			if err != nil {
				failed = append(failed, err)
				continue
			}
			if err := n.h.RouteAdd(&r); err != nil && !errors.Is(err, unix.EEXIST) {
				retry = append(retry, rec)
				errs = append(errs, fmt.Errorf("restore route %s: %w", rec, err))
				continue
			}
			added++
		}
		if len(retry) == 0 || added == 0 {
			break
		}
		pending = retry
	}
	return errors.Join(append(failed, errs...)...)
}

func restoreRules(ctx context.Context, n *nodeNet, want []RuleRecord) error {
	present := map[string]bool{}
	for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
		rules, err := n.listRules(family)
		if err != nil {
			return fmt.Errorf("restore rules: %w", err)
		}
		for _, r := range rules {
			present[r.key()] = true
		}
	}
	want = slices.Clone(want)
	slices.SortStableFunc(want, func(a, b RuleRecord) int { return cmp.Compare(a.Priority, b.Priority) })
	var errs []error
	for _, r := range want {
		if present[r.key()] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("restore rules: interrupted before rule %s: %w", r, err))...)
		}
		if err := n.addRule(r); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("restore rule %s: %w", r, err))
		}
	}
	return errors.Join(errs...)
}

// record journals one step of this injection, if there is a journal.
func (f *NetworkdRestart) record(state string, snap *NetworkdSnapshot, note string) error {
	if f.Journal == nil {
		return nil
	}
	raw, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	return f.Journal.Record(journal.Entry{
		Time:       time.Now().UTC(),
		ID:         f.ID,
		Fault:      NetworkdRestartName,
		Node:       f.Node,
		NetNS:      f.NetNSPath,
		NetNSInode: f.inode,
		State:      state,
		Snapshot:   raw,
		Error:      note,
	})
}

// networkdFromJournal re-creates an injected NetworkdRestart from a journal
// entry's snapshot.
func networkdFromJournal(e journal.Entry, j *journal.Journal) (*NetworkdRestart, error) {
	if len(e.Snapshot) == 0 {
		return nil, fmt.Errorf("journal entry %s has no snapshot", e.ID)
	}
	var snap NetworkdSnapshot
	if err := json.Unmarshal(e.Snapshot, &snap); err != nil {
		return nil, fmt.Errorf("journal entry %s: snapshot: %w", e.ID, err)
	}
	if snap.Version != snapshotVersion {
		return nil, fmt.Errorf("journal entry %s: snapshot version %d, want %d", e.ID, snap.Version, snapshotVersion)
	}
	if e.NetNS == "" {
		return nil, fmt.Errorf("journal entry %s has no network namespace", e.ID)
	}
	f := NewNetworkdRestart(e.Node, e.NetNS, NetworkdConfig{}, j, e.ID)
	f.snap, f.state, f.inode = &snap, journal.StateInjected, e.NetNSInode
	if e.NetNS == SelfNetNS {
		// Injected by aftershock running on the node itself: its revert
		// may act on the node's own namespace, on that node only.
		f.OwnHost = e.Node
	}
	return f, nil
}
