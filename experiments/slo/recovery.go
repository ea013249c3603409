package slo

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

// Group is a named set of nodes, e.g. "parent control-plane nodes".
type Group struct {
	Name  string
	Nodes []string
}

// Recovery is how one group came back after a disruption.
type Recovery struct {
	// Group is the group's name.
	Group string
	// Disrupted is how many members were NotReady at or after the start.
	Disrupted int
	// Recovered is how many disrupted members turned Ready again.
	Recovered int
	// Last is the latest recovery among the recovered members; zero if none.
	Last time.Time
	// TimeToRecover is Last minus the start, or 0 if no member recovered.
	// When Unrecovered is not empty it covers the recovered members only, so
	// it is a lower bound.
	TimeToRecover time.Duration
	// Unrecovered names, sorted, the disrupted members still NotReady at the
	// end of the timeline.
	Unrecovered []string
}

// nodeRecovery is one node's disruption after a start instant.
type nodeRecovery struct {
	// disrupted: NotReady at the start or at some event after it.
	disrupted bool
	// recovered: a Ready event followed its last NotReady.
	recovered bool
	// downSince is when its last NotReady run began.
	downSince time.Time
	// at is when it recovered.
	at time.Time
}

// recoveries replays readiness from after on. A node is disrupted if it is
// NotReady at after (its state carried in from earlier events) or reports
// NotReady at or after it. Its recovery is the first Ready event that follows
// its last NotReady; flapping nodes therefore recover at their final return.
func recoveries(events []experiments.Event, after time.Time) map[string]*nodeRecovery {
	ss := readiness(events)
	start := sort.Search(len(ss), func(i int) bool { return !ss[i].at.Before(after) })
	out := map[string]*nodeRecovery{}
	// State carried in from before after.
	status := map[string]string{}
	for _, s := range ss[:start] {
		if status[s.subject] != s.status {
			status[s.subject] = s.status
			if s.status == experiments.NotReady {
				out[s.subject] = &nodeRecovery{disrupted: true, downSince: s.at}
			}
		}
	}
	for n, st := range status {
		if st != experiments.NotReady {
			delete(out, n)
		}
	}
	defer creditReplacements(events, ss[start:], out)
	for _, s := range ss[start:] {
		r := out[s.subject]
		if r == nil {
			r = &nodeRecovery{}
			out[s.subject] = r
		}
		switch s.status {
		case experiments.NotReady:
			if !r.disrupted || r.recovered {
				r.downSince = s.at
			}
			r.disrupted, r.recovered = true, false
		case experiments.Ready:
			if r.disrupted && !r.recovered {
				r.recovered, r.at = true, s.at
			}
		}
	}
	return out
}

// creditReplacements counts a node that an auto-scaling group replaced as
// recovered when its replacement (the last of a chain of them) first turned
// Ready: the capacity came back, under another name.
func creditReplacements(events []experiments.Event, after []sample, out map[string]*nodeRecovery) {
	replaced := ReplacedBy(events)
	if len(replaced) == 0 {
		return
	}
	decided := ReplacementsDecided(events)
	firstReady := map[string]time.Time{}
	for _, s := range after {
		if _, seen := firstReady[s.subject]; !seen && s.status == experiments.Ready {
			firstReady[s.subject] = s.at
		}
	}
	for old, next := range replaced {
		r := out[old]
		if r == nil {
			r = &nodeRecovery{}
			out[old] = r
		}
		if !r.disrupted {
			// Replaced before any probe saw it NotReady.
			r.disrupted, r.downSince = true, decided[old]
		}
		if r.recovered {
			continue
		}
		if at, ok := firstReady[next]; ok {
			r.recovered, r.at = true, at
		}
	}
}

// ReplacedBy maps every node an auto-scaling group replaced to the node that
// replaces it now: the last of the chain if a replacement was replaced too.
func ReplacedBy(events []experiments.Event) map[string]string {
	direct := map[string]string{}
	for _, e := range events {
		if e.Kind == experiments.KindInstance && e.Status == "Unregistered" && e.Node != "" && e.Detail["replaces"] != "" {
			direct[e.Detail["replaces"]] = e.Node
		}
	}
	out := make(map[string]string, len(direct))
	for old, next := range direct {
		for hops := 0; hops < len(direct); hops++ {
			further, ok := direct[next]
			if !ok {
				break
			}
			next = further
		}
		out[old] = next
	}
	return out
}

// ReplacementsDecided maps every node an auto-scaling group decided to
// replace to when it decided (its NotStarted event).
func ReplacementsDecided(events []experiments.Event) map[string]time.Time {
	out := map[string]time.Time{}
	for _, e := range events {
		if old := e.Detail["replaces"]; e.Kind == experiments.KindInstance && e.Status == "NotStarted" && old != "" {
			if _, seen := out[old]; !seen {
				out[old] = e.Time
			}
		}
	}
	return out
}

// Launched lists every node an auto-scaling group launched, by replacement
// or scale-up.
func Launched(events []experiments.Event) map[string]bool {
	out := map[string]bool{}
	for _, e := range events {
		if e.Kind == experiments.KindInstance && e.Status == "Unregistered" && e.Node != "" {
			out[e.Node] = true
		}
	}
	return out
}

// span is a group's recoveries.
type span struct {
	name                string
	disrupted           int
	first, last         time.Time
	firstNode, lastNode string
	recovered           int
	unrecovered         []string
}

// spans sums up each group's recoveries, in group order.
func spans(recs map[string]*nodeRecovery, groups []Group) []span {
	out := make([]span, 0, len(groups))
	for _, g := range groups {
		sp := span{name: g.Name}
		for _, n := range unique(g.Nodes) {
			r := recs[n]
			if r == nil || !r.disrupted {
				continue
			}
			sp.disrupted++
			if !r.recovered {
				sp.unrecovered = append(sp.unrecovered, n)
				continue
			}
			if sp.recovered == 0 || r.at.Before(sp.first) {
				sp.first, sp.firstNode = r.at, n
			}
			if sp.recovered == 0 || r.at.After(sp.last) {
				sp.last, sp.lastNode = r.at, n
			}
			sp.recovered++
		}
		sort.Strings(sp.unrecovered)
		out = append(out, sp)
	}
	return out
}

// TimeToRecover returns, for each group in order, how many members were
// disrupted at or after after (NotReady then, or already NotReady at after),
// how many recovered, and the time from after to the latest recovery (see
// RecoveryOrder for what a recovery is). A group with no disrupted member has
// Disrupted 0 and TimeToRecover 0.
func TimeToRecover(events []experiments.Event, groups []Group, after time.Time) []Recovery {
	out := make([]Recovery, 0, len(groups))
	for _, sp := range spans(recoveries(events, after), groups) {
		rec := Recovery{
			Group:       sp.name,
			Disrupted:   sp.disrupted,
			Recovered:   sp.recovered,
			Unrecovered: sp.unrecovered,
		}
		if sp.recovered > 0 {
			rec.Last = sp.last
			rec.TimeToRecover = sp.last.Sub(after)
		}
		out = append(out, rec)
	}
	return out
}

// RecoveryOrder holds when the groups recovered in the order given. A node
// of a group is disrupted if it was NotReady at after or reported NotReady
// later; its recovery is its first Ready event following its last NotReady.
// Nodes never disrupted are ignored, and so are groups with no disrupted
// member. The order holds when, for every group i and every later group j,
// the latest recovery in i is no later than the earliest recovery in j plus
// tolerance, and every disrupted node recovered. With no disrupted node at
// all it holds vacuously. On failure the message names the worst inversion:
// both nodes, their groups and times, and by how much the order was broken;
// and every node that never recovered.
func RecoveryOrder(events []experiments.Event, groups []Group, after time.Time, tolerance time.Duration) Result {
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.Name
	}
	required := fmt.Sprintf("recovery in order %s (tolerance %s)", strings.Join(names, ", then "), tolerance)
	if len(groups) == 0 {
		return Result{
			Passed:   true,
			Observed: "no groups",
			Required: fmt.Sprintf("recovery in group order (tolerance %s)", tolerance),
			Message:  "no groups given: the order holds vacuously",
		}
	}
	recs := recoveries(events, after)
	sps := spans(recs, groups)
	var summary, unrecovered []string
	disrupted := 0
	where := places(events)
	for _, sp := range sps {
		disrupted += sp.disrupted
		switch {
		case sp.disrupted == 0:
			summary = append(summary, sp.name+" not disrupted")
		case sp.recovered == 0:
			summary = append(summary, fmt.Sprintf("%s none of %s recovered", sp.name, count(sp.disrupted, "disrupted node")))
		default:
			s := fmt.Sprintf("%s Ready %s..%s", sp.name, offset(sp.first.Sub(after)), offset(sp.last.Sub(after)))
			if sp.recovered < sp.disrupted {
				s += fmt.Sprintf(" (%d of %d recovered)", sp.recovered, sp.disrupted)
			}
			summary = append(summary, s)
		}
		for _, n := range sp.unrecovered {
			unrecovered = append(unrecovered, fmt.Sprintf("%s of %s NotReady since %s",
				describe(n, where), sp.name, stamp(recs[n].downSince, after)))
		}
	}
	observed := strings.Join(summary, "; ")
	if disrupted == 0 {
		return Result{
			Passed:   true,
			Observed: observed,
			Required: required,
			Message:  fmt.Sprintf("no node of any group was NotReady at or after %s: the order holds vacuously", stamp(after, after)),
		}
	}

	// The worst inversion: the largest lead of a later group's earliest
	// recovery over an earlier group's latest.
	var worst struct {
		gap         time.Duration
		early, late int
	}
	worst.early = -1
	pairs := 0
	for i := range sps {
		if sps[i].recovered == 0 {
			continue
		}
		for j := i + 1; j < len(sps); j++ {
			if sps[j].recovered == 0 {
				continue
			}
			gap := sps[i].last.Sub(sps[j].first)
			if gap <= tolerance {
				continue
			}
			pairs++
			if worst.early < 0 || gap > worst.gap {
				worst.gap, worst.early, worst.late = gap, i, j
			}
		}
	}
	if worst.early < 0 && len(unrecovered) == 0 {
		return Result{
			Passed:   true,
			Observed: observed,
			Required: required,
			Message:  fmt.Sprintf("groups recovered in order after %s: %s", stamp(after, after), observed),
		}
	}
	var problems []string
	if worst.early >= 0 {
		e, l := sps[worst.early], sps[worst.late]
		p := fmt.Sprintf("recovery order broken by %s (tolerance %s): %s of %s Ready at %s, before %s of %s Ready at %s",
			worst.gap.Round(time.Millisecond), tolerance,
			describe(l.firstNode, where), l.name, stamp(l.first, after),
			describe(e.lastNode, where), e.name, stamp(e.last, after))
		if pairs > 1 {
			p += fmt.Sprintf(" (%d group pairs out of order)", pairs)
		}
		problems = append(problems, p)
	}
	if len(unrecovered) > 0 {
		problems = append(problems, fmt.Sprintf("%s never recovered: %s", count(len(unrecovered), "node"), list(unrecovered)))
	}
	return Result{
		Observed: observed,
		Required: required,
		Message:  strings.Join(problems, "; ") + "; required " + required,
	}
}
