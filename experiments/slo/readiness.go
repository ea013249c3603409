package slo

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

// epsilon absorbs float rounding when a fraction is compared with a minimum,
// so that 3 of 10 nodes meets a minimum of 0.1*3.
const epsilon = 1e-9

// NotReadyFractionWithin holds when, at some instant in [from, from+within],
// at least minFraction (0 to 1) of nodes are NotReady at once. Nodes with no
// known state count as not NotReady, and duplicate names count once. It fails
// on an empty node list, since the fraction of nothing is undefined. Observed
// is the peak and the first instant it was reached; on failure the message
// also lists the nodes never NotReady in the window.
func NotReadyFractionWithin(events []experiments.Event, nodes []string, from time.Time, within time.Duration, minFraction float64) Result {
	required := fmt.Sprintf("at least %s NotReady within %s", percent(minFraction), within)
	switch {
	case within < 0:
		return invalid(required, "window %s is negative", within)
	case math.IsNaN(minFraction) || minFraction < 0 || minFraction > 1:
		return invalid(required, "minimum fraction %v is not between 0 and 1", minFraction)
	}
	nodes = unique(nodes)
	if len(nodes) == 0 {
		return Result{
			Observed: "no nodes",
			Required: required,
			Message:  "no nodes given: the NotReady fraction of an empty set is undefined",
		}
	}
	total := len(nodes)
	peak, reached := -1, -1
	var peakAt, reachedAt time.Time
	r := walk(readiness(events), setOf(nodes), from, from.Add(within), func(at time.Time, r *replay) bool {
		n := r.count[experiments.NotReady]
		if n > peak {
			peak, peakAt = n, at
		}
		if reached < 0 && fraction(n, total)+epsilon >= minFraction {
			reached, reachedAt = n, at
		}
		return true
	})
	observed := fmt.Sprintf("%s (%s) at %s", percent(fraction(peak, total)), ofTotal(peak, total, "node"), stamp(peakAt, from))
	if reached >= 0 {
		msg := fmt.Sprintf("NotReady fraction reached %s (%s) at %s", percent(fraction(reached, total)),
			ofTotal(reached, total, "node"), stamp(reachedAt, from))
		if peak > reached {
			msg += " and peaked at " + observed
		}
		return Result{
			Passed:   true,
			Observed: observed,
			Required: required,
			Message:  fmt.Sprintf("%s; required %s of %s", msg, required, stamp(from, from)),
		}
	}
	var never []string
	for _, n := range nodes {
		if _, hit := r.first[experiments.NotReady][n]; !hit {
			never = append(never, n)
		}
	}
	sort.Strings(never)
	evidence := "never NotReady in the window: " + list(never)
	if len(never) == 0 {
		evidence = "every node was NotReady at some instant, but not enough at once"
	}
	return Result{
		Observed: observed,
		Required: required,
		Message: fmt.Sprintf("NotReady fraction peaked at %s, required %s of %s; %s",
			observed, required, stamp(from, from), evidence),
	}
}

// AllReadyWithin holds when, at some instant in [from, from+within], every
// node is Ready at once; the message says when, and which node was the last
// to turn Ready. A node with no known state is not Ready. An empty node list
// passes vacuously. On failure the message names each node not Ready at the
// deadline and since when it has been NotReady.
func AllReadyWithin(events []experiments.Event, nodes []string, from time.Time, within time.Duration) Result {
	required := fmt.Sprintf("all nodes Ready within %s", within)
	if within < 0 {
		return invalid(required, "window %s is negative", within)
	}
	nodes = unique(nodes)
	if len(nodes) == 0 {
		return Result{
			Passed:   true,
			Observed: "no nodes",
			Required: required,
			Message:  "no nodes given: all Ready holds vacuously",
		}
	}
	total := len(nodes)
	deadline := from.Add(within)
	most, allAt := -1, time.Time{}
	var mostAt time.Time
	done := false
	r := walk(readiness(events), setOf(nodes), from, deadline, func(at time.Time, r *replay) bool {
		n := r.count[experiments.Ready]
		if n > most {
			most, mostAt = n, at
		}
		if n == total {
			done, allAt = true, at
			return false
		}
		return true
	})
	where := places(events)
	if done {
		last := nodes[0]
		for _, n := range nodes[1:] {
			if r.since[n].After(r.since[last]) {
				last = n
			}
		}
		return Result{
			Passed:   true,
			Observed: fmt.Sprintf("all %s Ready at %s", count(total, "node"), stamp(allAt, from)),
			Required: required,
			Message: fmt.Sprintf("all %s Ready at %s, within %s of %s; last to turn Ready: %s at %s",
				count(total, "node"), stamp(allAt, from), within, stamp(from, from), describe(last, where), stamp(r.since[last], from)),
		}
	}
	var late []string
	for _, n := range sorted(nodes) {
		switch st, known := r.status[n]; {
		case !known:
			late = append(late, describe(n, where)+" has no readiness event")
		case st != experiments.Ready:
			late = append(late, fmt.Sprintf("%s %s since %s", describe(n, where), st, stamp(r.since[n], from)))
		}
	}
	return Result{
		Observed: fmt.Sprintf("%s not Ready at deadline %s; at most %d Ready at once (%s)",
			ofTotal(len(late), total, "node"), stamp(deadline, from), most, stamp(mostAt, from)),
		Required: required,
		Message: fmt.Sprintf("%s not Ready at deadline %s, required %s of %s: %s",
			ofTotal(len(late), total, "node"), stamp(deadline, from), required, stamp(from, from), list(late)),
	}
}

// NoneNotReadyFor holds when no node is NotReady at any instant in
// [from, from+d]; a node already NotReady at from fails it too. A node with
// no known state is not NotReady. An empty node list passes vacuously. On
// failure the message names the first offender (earliest instant, then
// name), when it was seen NotReady and since when, and every node NotReady in
// the window.
func NoneNotReadyFor(events []experiments.Event, nodes []string, from time.Time, d time.Duration) Result {
	required := fmt.Sprintf("no node NotReady for %s", d)
	if d < 0 {
		return invalid(required, "duration %s is negative", d)
	}
	nodes = unique(nodes)
	to := from.Add(d)
	if len(nodes) == 0 {
		return Result{
			Passed:   true,
			Observed: "no nodes",
			Required: required,
			Message:  "no nodes given: none NotReady holds vacuously",
		}
	}
	r := walk(readiness(events), setOf(nodes), from, to, func(time.Time, *replay) bool { return true })
	offenders := r.firstSeen(experiments.NotReady)
	if len(offenders) == 0 {
		return Result{
			Passed:   true,
			Observed: ofTotal(0, len(nodes), "node") + " NotReady",
			Required: required,
			Message: fmt.Sprintf("none of %s NotReady from %s to %s",
				count(len(nodes), "node"), stamp(from, from), stamp(to, from)),
		}
	}
	where := places(events)
	first := offenders[0]
	s := r.first[experiments.NotReady][first]
	since := ""
	if s.since.Before(s.at) {
		since = " (since " + stamp(s.since, from) + ")"
	}
	return Result{
		Observed: fmt.Sprintf("%s NotReady at %s; %s NotReady in the window",
			first, stamp(s.at, from), ofTotal(len(offenders), len(nodes), "node")),
		Required: required,
		Message: fmt.Sprintf("%s NotReady at %s%s, required %s from %s; %s NotReady in the window: %s",
			describe(first, where), stamp(s.at, from), since, required, stamp(from, from),
			ofTotal(len(offenders), len(nodes), "node"), list(offenders)),
	}
}

// EveryRegionHit holds when every region of nodes had at least one of them
// NotReady at some instant in [from, from+within]. A node's region is the
// latest Region of the events that name it; nodes with no known region are
// left out (and counted in the message). The regions considered are those of
// nodes only: pass every node of the fleet to demand that the whole fleet's
// regions were hit. It fails when no node has a known region, and names the
// regions never hit with how many nodes they have.
func EveryRegionHit(events []experiments.Event, nodes []string, from time.Time, within time.Duration) Result {
	required := fmt.Sprintf("a NotReady node in every region within %s", within)
	if within < 0 {
		return invalid(required, "window %s is negative", within)
	}
	nodes = unique(nodes)
	if len(nodes) == 0 {
		return Result{
			Observed: "no nodes",
			Required: required,
			Message:  "no nodes given: an experiment that hits no node proves nothing",
		}
	}
	where := places(events)
	members := map[string][]string{}
	var homeless []string
	for _, n := range nodes {
		if reg := where[n].region; reg != "" {
			members[reg] = append(members[reg], n)
		} else {
			homeless = append(homeless, n)
		}
	}
	unknown := ""
	if len(homeless) > 0 {
		sort.Strings(homeless)
		unknown = fmt.Sprintf("; %s with no known region left out: %s", count(len(homeless), "node"), list(homeless))
	}
	if len(members) == 0 {
		return Result{
			Observed: "no regions",
			Required: required,
			Message:  fmt.Sprintf("none of the %s given has a known region%s", count(len(nodes), "node"), unknown),
		}
	}
	regions := make([]string, 0, len(members))
	for reg := range members {
		regions = append(regions, reg)
	}
	sort.Strings(regions)

	r := walk(readiness(events), setOf(nodes), from, from.Add(within), func(time.Time, *replay) bool { return true })
	// firstHit is each hit region's first NotReady node.
	firstHit := map[string]string{}
	for _, n := range r.firstSeen(experiments.NotReady) {
		if reg := where[n].region; reg != "" {
			if _, ok := firstHit[reg]; !ok {
				firstHit[reg] = n
			}
		}
	}
	var missed []string
	lastReg := ""
	for _, reg := range regions {
		n, ok := firstHit[reg]
		if !ok {
			missed = append(missed, fmt.Sprintf("%s (%s)", reg, ofTotal(0, len(members[reg]), "node")))
			continue
		}
		if lastReg == "" || r.first[experiments.NotReady][n].at.After(r.first[experiments.NotReady][firstHit[lastReg]].at) {
			lastReg = reg
		}
	}
	observed := ofTotal(len(regions)-len(missed), len(regions), "region") + " had a NotReady node"
	if len(missed) == 0 {
		n := firstHit[lastReg]
		return Result{
			Passed:   true,
			Observed: observed,
			Required: required,
			Message: fmt.Sprintf("all %s had a NotReady node within %s of %s; last hit: %s, first %s at %s%s",
				count(len(regions), "region"), within, stamp(from, from), lastReg, n, stamp(r.first[experiments.NotReady][n].at, from), unknown),
		}
	}
	return Result{
		Observed: observed,
		Required: required,
		Message: fmt.Sprintf("%s had no NotReady node within %s of %s: %s; required %s%s",
			ofTotal(len(missed), len(regions), "region"), within, stamp(from, from), list(missed), required, unknown),
	}
}

// ReadinessAt returns the readiness ("Ready" or "NotReady") of every node
// with a known state at t: the status of its latest KindNodeReady event at or
// before t. Nodes with no such event are absent.
func ReadinessAt(events []experiments.Event, t time.Time) map[string]string {
	out := map[string]string{}
	for _, s := range readiness(events) {
		if s.at.After(t) {
			break
		}
		out[s.subject] = s.status
	}
	return out
}

// sorted returns a sorted copy of names.
func sorted(names []string) []string {
	out := append([]string(nil), names...)
	sort.Strings(out)
	return out
}
