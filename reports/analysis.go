package reports

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/experiments/slo"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// view is what both renderers show of one scenario, computed from its
// events alone (and the topology, when the journal has one, for cluster
// sizes and roles).
type view struct {
	sc     *Scenario
	events []experiments.Event // time-ordered
	// start and end are the first and last event; zero without events.
	start, end time.Time
	// fault is the first fault injection; faulted says there was one.
	fault   time.Time
	faulted bool
	// origin is what offsets count from: the first fault, or start.
	origin time.Time
	// faults counts fault events by fault name, then status.
	faults map[string]map[string]int
	// launched are the nodes an auto-scaling group launched during the run.
	launched map[string]bool

	clusters  []*clusterView
	byCluster map[string]*clusterView
	// nodeCluster maps every known node to its cluster.
	nodeCluster map[string]string
	// nodeOrder ranks nodes for display (topology order, then natural).
	nodeOrder map[string]int

	// recoveries are the nodes disrupted at or after the first fault.
	recoveries []nodeRecovery
	// downRuns are each node's runs of NotReady that end at or after the
	// first fault (or never end), in time order; to is zero for a run that
	// never ended.
	downRuns map[string][]outage
	// allBack is when the last disrupted node was Ready again; valid when
	// recovered says every disrupted node came back.
	allBack   time.Time
	recovered bool
	// groups is the time to recover per node group (from the topology's
	// roles) and for all nodes.
	groups []slo.Recovery

	// outages are the control planes' unreachable periods.
	outages []outage
	// before, during and after are the windows availability is measured
	// over: before the first fault, the degraded window, after recovery.
	before, during, after window
	// services are the services seen in KindRequest events, sorted.
	services []serviceView
}

// clusterView is one cluster's blast radius and recovery.
type clusterView struct {
	name, region, role string
	nodes              []string
	// launched counts the nodes of nodes that an auto-scaling group
	// launched during the run; the blast radius leaves them out.
	launched           int
	selected, injected int
	disrupted, back    int
	// last is when its last disrupted node was Ready again, lastNode which.
	last     time.Time
	lastNode string
	notBack  []string
	// order is its rank in the topology, or -1.
	order int
	// rank is its index in view.clusters; regionRank the index of its
	// region among the regions of view.clusters, in order of appearance.
	rank, regionRank int
}

// nodeRecovery is one node's disruption after the first fault.
type nodeRecovery struct {
	node, cluster string
	// down is when its last run of NotReady began (maybe before the fault).
	down time.Time
	// back is when it was Ready again; zero unless recovered.
	back      time.Time
	recovered bool
}

// outage is one period a cluster's control plane was unreachable; to is
// zero if it never became reachable again.
type outage struct {
	cluster  string
	from, to time.Time
}

// window is a stretch of the scenario; ok says it exists.
type window struct {
	from, to time.Time
	ok       bool
}

// share is a service's availability over a window.
type share struct {
	ok, total int
	measured  bool
}

// serviceView is one service's availability before the fault, during the
// degraded window and after recovery, and its floors.
type serviceView struct {
	name                  string
	before, during, after share
	floors                []floor
}

// floor is a service's minimum share of ok requests, as a step demands it.
type floor struct {
	percent float64
	step    Step
}

// floorPattern finds `"service" … at least N% of requests` in a step.
var floorPattern = regexp.MustCompile(`"([^"]+)"[^"]*?\bat least ([0-9]+(?:\.[0-9]+)?)% of requests`)

// newView analyses sc; topo may be nil.
func newView(sc *Scenario, topo *topology.Topology) *view {
	v := &view{
		sc:          sc,
		events:      timeOrdered(sc.Events),
		faults:      map[string]map[string]int{},
		byCluster:   map[string]*clusterView{},
		nodeCluster: map[string]string{},
		nodeOrder:   map[string]int{},
	}
	if len(v.events) > 0 {
		v.start, v.end = v.events[0].Time, v.events[len(v.events)-1].Time
	}
	v.origin = v.start
	v.launched = slo.Launched(v.events)
	for _, e := range v.events {
		if e.Kind == experiments.KindFault && e.Status == "injected" && !v.faulted {
			v.fault, v.faulted, v.origin = e.Time, true, e.Time
		}
	}
	v.layout(topo)
	v.blastRadius()
	v.recover(topo)
	v.controlPlanes()
	v.availability()
	return v
}

// layout learns the clusters, their regions, roles and nodes: from the
// topology first, then from every event that names them.
func (v *view) layout(topo *topology.Topology) {
	cluster := func(name string) *clusterView {
		c := v.byCluster[name]
		if c == nil {
			c = &clusterView{name: name, order: -1}
			v.byCluster[name] = c
		}
		return c
	}
	rank := 0
	if topo != nil {
		for i, rc := range topo.Clusters() {
			c := cluster(rc.Cluster.Name)
			c.region, c.role, c.order = rc.Region.Name, string(rc.Cluster.Role), i
			for _, n := range rc.Cluster.Nodes(rc.Region) {
				v.nodeCluster[n.Name] = c.name
				v.nodeOrder[n.Name] = rank
				rank++
			}
		}
	}
	for _, e := range v.events {
		if e.Cluster == "" {
			continue
		}
		c := cluster(e.Cluster)
		if e.Region != "" && c.order < 0 {
			c.region = e.Region
		}
		if e.Node != "" {
			if _, known := v.nodeCluster[e.Node]; !known || c.order < 0 {
				v.nodeCluster[e.Node] = e.Cluster
			}
		}
	}
	for n, c := range v.nodeCluster {
		cluster(c).nodes = append(cluster(c).nodes, n)
		if v.launched[n] {
			cluster(c).launched++
		}
	}
	var extra []string
	for n := range v.nodeCluster {
		if _, ok := v.nodeOrder[n]; !ok {
			extra = append(extra, n)
		}
	}
	slices.SortFunc(extra, natural)
	for _, n := range extra {
		v.nodeOrder[n] = rank
		rank++
	}
	for _, c := range v.byCluster {
		slices.SortFunc(c.nodes, v.compareNodes)
		v.clusters = append(v.clusters, c)
	}
	slices.SortFunc(v.clusters, func(a, b *clusterView) int {
		switch {
		case a.order >= 0 && b.order >= 0:
			return cmp.Compare(a.order, b.order)
		case a.order >= 0:
			return -1
		case b.order >= 0:
			return 1
		}
		if c := natural(a.region, b.region); c != 0 {
			return c
		}
		return natural(a.name, b.name)
	})
	regions := map[string]int{}
	for i, c := range v.clusters {
		if _, ok := regions[c.region]; !ok {
			regions[c.region] = len(regions)
		}
		c.rank, c.regionRank = i, regions[c.region]
	}
}

// compareNodes orders nodes for display.
func (v *view) compareNodes(a, b string) int {
	return cmp.Or(cmp.Compare(v.nodeOrder[a], v.nodeOrder[b]), strings.Compare(a, b))
}

// clusterOf is the cluster of an event's subject.
func (v *view) clusterOf(e experiments.Event) string {
	if e.Cluster != "" {
		return e.Cluster
	}
	return v.nodeCluster[e.Node]
}

// blastRadius counts, per cluster, the distinct nodes selected by targeting
// steps and the distinct nodes a fault was injected on.
func (v *view) blastRadius() {
	selected, injected := map[string]bool{}, map[string]bool{}
	for _, e := range v.events {
		switch e.Kind {
		case experiments.KindSelection:
			if e.Node != "" && !selected[e.Node] {
				selected[e.Node] = true
				if c := v.byCluster[v.clusterOf(e)]; c != nil {
					c.selected++
				}
			}
		case experiments.KindFault:
			if v.faults[e.Name] == nil {
				v.faults[e.Name] = map[string]int{}
			}
			v.faults[e.Name][e.Status]++
			if e.Status == "injected" && e.Node != "" && !injected[e.Node] {
				injected[e.Node] = true
				if c := v.byCluster[v.clusterOf(e)]; c != nil {
					c.injected++
				}
			}
		}
	}
}

// recover replays node readiness from the first fault on. A node is
// disrupted if it is NotReady at the fault or reports NotReady later; it
// recovers at its first Ready after its last NotReady, as in slo's
// TimeToRecover, which computes the group totals.
func (v *view) recover(topo *topology.Topology) {
	if !v.faulted {
		return
	}
	type state struct {
		status    string
		down      time.Time
		disrupted bool
		recovered bool
		back      time.Time
	}
	states := map[string]*state{}
	v.downRuns = map[string][]outage{}
	for _, e := range v.events {
		if e.Kind != experiments.KindNodeReady || e.Node == "" ||
			(e.Status != experiments.Ready && e.Status != experiments.NotReady) {
			continue
		}
		s := states[e.Node]
		if s == nil {
			s = &state{}
			states[e.Node] = s
		}
		runs := v.downRuns[e.Node]
		open := len(runs) > 0 && runs[len(runs)-1].to.IsZero()
		switch {
		case e.Status == experiments.NotReady && !open:
			v.downRuns[e.Node] = append(runs, outage{cluster: v.nodeCluster[e.Node], from: e.Time})
		case e.Status == experiments.Ready && open:
			runs[len(runs)-1].to = e.Time
		}
		if e.Time.Before(v.fault) {
			if s.status != e.Status && e.Status == experiments.NotReady {
				s.down = e.Time
			}
			s.status = e.Status
			s.disrupted = e.Status == experiments.NotReady
			continue
		}
		switch e.Status {
		case experiments.NotReady:
			if !s.disrupted || s.recovered {
				s.down = e.Time
			}
			s.disrupted, s.recovered = true, false
		case experiments.Ready:
			if s.disrupted && !s.recovered {
				s.recovered, s.back = true, e.Time
			}
		}
	}
	for n, runs := range v.downRuns {
		i := 0
		for i < len(runs) && !runs[i].to.IsZero() && runs[i].to.Before(v.fault) {
			i++
		}
		v.downRuns[n] = runs[i:]
	}
	// A replaced node is back when its replacement first turned Ready; the
	// replacements themselves were never disrupted, only new.
	firstReady := map[string]time.Time{} // after the fault
	for _, e := range v.events {
		if _, seen := firstReady[e.Node]; !seen && e.Kind == experiments.KindNodeReady && e.Status == experiments.Ready && !e.Time.Before(v.fault) {
			firstReady[e.Node] = e.Time
		}
	}
	decided := slo.ReplacementsDecided(v.events)
	for old, next := range slo.ReplacedBy(v.events) {
		s := states[old]
		if s == nil {
			s = &state{}
			states[old] = s
		}
		if !s.disrupted {
			// Replaced before any probe saw it NotReady.
			s.disrupted, s.down = true, decided[old]
		}
		if back, ok := firstReady[next]; ok && !s.recovered {
			s.recovered, s.back = true, back
		}
	}
	for n, s := range states {
		if !s.disrupted || v.launched[n] {
			continue
		}
		r := nodeRecovery{node: n, cluster: v.nodeCluster[n], down: s.down, back: s.back, recovered: s.recovered}
		v.recoveries = append(v.recoveries, r)
		c := v.byCluster[r.cluster]
		if c == nil {
			continue
		}
		c.disrupted++
		if !r.recovered {
			c.notBack = append(c.notBack, n)
			continue
		}
		c.back++
		if r.back.After(c.last) || (r.back.Equal(c.last) && v.compareNodes(n, c.lastNode) > 0) {
			c.last, c.lastNode = r.back, n
		}
	}
	slices.SortFunc(v.recoveries, func(a, b nodeRecovery) int {
		return cmp.Or(v.compareClusters(a.cluster, b.cluster), v.compareNodes(a.node, b.node))
	})
	v.recovered = len(v.recoveries) > 0
	for _, r := range v.recoveries {
		v.recovered = v.recovered && r.recovered
		if r.back.After(v.allBack) {
			v.allBack = r.back
		}
	}
	for _, c := range v.byCluster {
		slices.SortFunc(c.notBack, v.compareNodes)
	}
	v.groups = slo.TimeToRecover(v.events, v.nodeGroups(topo), v.fault)
}

// nodeGroups are the groups the step library orders recovery by, from the
// topology's roles, then all nodes.
func (v *view) nodeGroups(topo *topology.Topology) []slo.Group {
	var groups []slo.Group
	if topo != nil {
		byName := map[string][]string{}
		names := []string{"parent control-plane nodes", "parent workers", "child cluster nodes"}
		for _, n := range topo.Nodes() {
			switch {
			case n.ClusterRole == topology.Parent && n.Role == topology.ControlPlane:
				byName[names[0]] = append(byName[names[0]], n.Name)
			case n.ClusterRole == topology.Parent:
				byName[names[1]] = append(byName[names[1]], n.Name)
			default:
				byName[names[2]] = append(byName[names[2]], n.Name)
			}
		}
		for _, name := range names {
			if len(byName[name]) > 0 {
				groups = append(groups, slo.Group{Name: name, Nodes: byName[name]})
			}
		}
	}
	all := make([]string, 0, len(v.nodeCluster))
	for n := range v.nodeCluster {
		if !v.launched[n] {
			all = append(all, n)
		}
	}
	slices.SortFunc(all, v.compareNodes)
	return append(groups, slo.Group{Name: "all nodes", Nodes: all})
}

// recoveryOrder is the disrupted clusters in the order their last node
// came back; clusters with nodes not back come last.
func (v *view) recoveryOrder() []*clusterView {
	var out []*clusterView
	for _, c := range v.clusters {
		if c.disrupted > 0 {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b *clusterView) int {
		if (len(a.notBack) > 0) != (len(b.notBack) > 0) {
			if len(a.notBack) > 0 {
				return 1
			}
			return -1
		}
		return a.last.Compare(b.last)
	})
	return out
}

// compareClusters orders clusters as v.clusters does; unknown ones first.
func (v *view) compareClusters(a, b string) int {
	return cmp.Or(cmp.Compare(v.clusterIndex(a), v.clusterIndex(b)), strings.Compare(a, b))
}

// clusterIndex is a cluster's index in v.clusters, or -1.
func (v *view) clusterIndex(name string) int {
	if c := v.byCluster[name]; c != nil {
		return c.rank
	}
	return -1
}

// controlPlanes finds every period a cluster's control plane was
// unreachable.
func (v *view) controlPlanes() {
	open := map[string]int{} // cluster -> index in outages of its open outage
	for _, e := range v.events {
		if e.Kind != experiments.KindControlPlane || e.Cluster == "" {
			continue
		}
		i, down := open[e.Cluster]
		switch {
		case e.Status == experiments.Unreachable && !down:
			open[e.Cluster] = len(v.outages)
			v.outages = append(v.outages, outage{cluster: e.Cluster, from: e.Time})
		case e.Status == experiments.Reachable && down:
			v.outages[i].to = e.Time
			delete(open, e.Cluster)
		}
	}
	slices.SortStableFunc(v.outages, func(a, b outage) int { return v.compareClusters(a.cluster, b.cluster) })
}

// availability measures every service before the first fault, in the
// degraded window (first fault to every disrupted node Ready again) and
// after it, and collects the floors its steps demand.
func (v *view) availability() {
	seen := map[string]bool{}
	for _, e := range v.events {
		if e.Kind == experiments.KindRequest && e.Name != "" {
			seen[e.Name] = true
		}
	}
	v.before, v.during, v.after = v.windows()
	for _, name := range slices.Sorted(maps.Keys(seen)) {
		s := serviceView{name: name}
		s.before = measure(v.events, name, v.before)
		s.during = measure(v.events, name, v.during)
		s.after = measure(v.events, name, v.after)
		s.floors = floorsOf(v.sc.Steps, name)
		v.services = append(v.services, s)
	}
}

// windows are the stretches availability is measured over. Without a
// fault, "before" is the whole scenario. With one, the degraded window runs
// from it until every disrupted node is Ready again, or to the end if some
// never came back or none went NotReady; "after" is the rest.
func (v *view) windows() (before, during, after window) {
	if len(v.events) == 0 {
		return
	}
	if !v.faulted {
		return window{v.start, v.end, true}, window{}, window{}
	}
	before = window{v.start, v.fault.Add(-time.Nanosecond), v.fault.After(v.start)}
	if v.recovered {
		return before, window{v.fault, v.allBack, true}, window{v.allBack.Add(time.Nanosecond), v.end, v.end.After(v.allBack)}
	}
	return before, window{v.fault, v.end, true}, window{}
}

// measure is a service's share of ok requests over w.
func measure(events []experiments.Event, service string, w window) share {
	if !w.ok {
		return share{}
	}
	_, ok, total := slo.Availability(events, service, w.from, w.to)
	return share{ok: ok, total: total, measured: true}
}

// floorsOf finds the floors the steps set for service.
func floorsOf(steps []Step, service string) []floor {
	var out []floor
	for _, s := range steps {
		for _, m := range floorPattern.FindAllStringSubmatch(s.Text, -1) {
			if m[1] != service {
				continue
			}
			if p, err := strconv.ParseFloat(m[2], 64); err == nil && p <= 100 {
				out = append(out, floor{percent: p, step: s})
			}
		}
	}
	return out
}

// natural compares strings with digit runs compared as numbers, so that
// "w2" sorts before "w10".
func natural(a, b string) int {
	return cmp.Or(naturalParts(a, b), strings.Compare(a, b))
}

// naturalParts compares a and b part by part; it may call unequal strings
// equal ("a07", "a7").
func naturalParts(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmp.Or(cmp.Compare(len(na), len(nb)), strings.Compare(na, nb)); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

// digits is the length of the run of ASCII digits that starts s.
func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// stopNote says when and why a stop condition aborted the scenario, or ""
// if none did.
func (v *view) stopNote() string {
	note := ""
	for _, e := range v.events {
		if e.Kind != experiments.KindStop {
			continue
		}
		switch e.Status {
		case "triggered":
			note = fmt.Sprintf("stopped at %s by the stop condition %q: %s (required: %s).",
				offset(e.Time, v.origin), e.Name, e.Detail["observed"], e.Detail["required"])
		case "reverted":
			note += fmt.Sprintf(" %s faults reverted at %s.", e.Detail["faults"], offset(e.Time, v.origin))
		default:
			note += fmt.Sprintf(" Reverting its faults failed: %s.", e.Detail["error"])
		}
	}
	return note
}
