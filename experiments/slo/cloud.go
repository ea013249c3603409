package slo

import (
	"fmt"
	"sort"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

// Instance is one node an auto-scaling group launched, with the instants it
// entered each state of the registration pipeline. A zero time means the
// state was not reached (yet).
type Instance struct {
	Node, Cluster, Region string
	// Replaces is the node it replaces; empty for a scale-up.
	Replaces string
	// NotStarted is when the group decided to launch it.
	NotStarted time.Time
	// Unregistered is when its instance ran.
	Unregistered time.Time
	// Unready is when its Node object was first seen (NotReady).
	Unready time.Time
	// Ready is when it was first seen Ready.
	Ready time.Time
}

// Instances lists the nodes launched in region (every region if empty),
// by replacement (replaced true) or by scale-up, as the timeline's instance
// and node-ready events show them, in launch order.
func Instances(events []experiments.Event, region string, replaced bool) []Instance {
	var out []Instance
	index := map[string]int{}
	for _, e := range events {
		if e.Kind != experiments.KindInstance || (region != "" && e.Region != region) {
			continue
		}
		if (e.Name == "replacement") != replaced || e.Status != "Unregistered" || e.Node == "" {
			continue
		}
		index[e.Node] = len(out)
		out = append(out, Instance{Node: e.Node, Cluster: e.Cluster, Region: e.Region,
			Replaces: e.Detail["replaces"], Unregistered: e.Time})
	}
	// NotStarted events carry the old node (or nothing, for a scale-up), so
	// they are matched to launches in order, per cluster and old node.
	notStarted := map[string][]time.Time{}
	for _, e := range events {
		if e.Kind == experiments.KindInstance && e.Status == "NotStarted" {
			key := e.Cluster + "/" + e.Detail["replaces"]
			notStarted[key] = append(notStarted[key], e.Time)
		}
	}
	for i := range out {
		key := out[i].Cluster + "/" + out[i].Replaces
		if q := notStarted[key]; len(q) > 0 {
			out[i].NotStarted, notStarted[key] = q[0], q[1:]
		}
	}
	for _, e := range events {
		i, ok := index[e.Node]
		if e.Kind != experiments.KindNodeReady || !ok {
			continue
		}
		in := &out[i]
		if in.Unready.IsZero() {
			in.Unready = e.Time
		}
		if e.Status == experiments.Ready && in.Ready.IsZero() {
			in.Ready = e.Time
		}
	}
	return out
}

// StayedUnready checks that at least minShare of the instances stayed
// Unready (registered, not Ready) for at least d, judged at now. It passes
// once enough instances were Unready that long; it fails, with the nodes
// that turned Ready sooner, once too few still can.
func StayedUnready(instances []Instance, minShare float64, d time.Duration, now time.Time) (r Result, decided bool) {
	r.Required = fmt.Sprintf("at least %s of %s Unready for at least %s", percent(minShare), count(len(instances), "launched node"), d)
	if len(instances) == 0 {
		r.Observed = "no node was launched"
		r.Message = "no node was replaced: " + r.Required
		return r, false
	}
	var long, early, open []string
	for _, in := range instances {
		switch {
		case in.Unready.IsZero():
			open = append(open, in.Node) // still Unregistered
		case !in.Ready.IsZero() && in.Ready.Sub(in.Unready) < d:
			early = append(early, fmt.Sprintf("%s (Ready after %s Unready)", in.Node, in.Ready.Sub(in.Unready).Round(time.Millisecond)))
		case in.Ready.IsZero() && now.Sub(in.Unready) < d:
			open = append(open, in.Node)
		default:
			long = append(long, in.Node)
		}
	}
	need := int(minShare*float64(len(instances)) + 0.999999)
	r.Observed = fmt.Sprintf("%s stayed Unready for %s or more", ofTotal(len(long), len(instances), "node"), d)
	switch {
	case len(long) >= need:
		r.Passed = true
		r.Message = r.Observed
		return r, true
	case len(long)+len(open) < need:
		r.Observed = fmt.Sprintf("%s turned Ready within %s of registering", ofTotal(len(early), len(instances), "node"), d)
		r.Message = fmt.Sprintf("%s, so at most %d can stay Unready that long, want %d (%s): %s",
			r.Observed, len(instances)-len(early), need, percent(minShare), list(early))
		return r, true
	}
	r.Message = fmt.Sprintf("%s; still undecided: %s", r.Observed, list(open))
	return r, false
}

// ThrottledShare checks that more than minShare of the calls to api in
// region (every region if empty) since from were throttled.
func ThrottledShare(events []experiments.Event, api, region string, from time.Time, minShare float64) Result {
	throttled, calls := callsWith(events, api, region, from, "throttled")
	share := fraction(throttled, calls)
	r := Result{
		Required: fmt.Sprintf("more than %s of %s calls throttled", percent(minShare), api),
		Observed: fmt.Sprintf("%s (%s) throttled", percent(share), ofTotal(throttled, calls, "call")),
	}
	r.Passed = calls > 0 && share > minShare
	switch {
	case calls == 0:
		r.Message = fmt.Sprintf("no %s call was made", api)
	case r.Passed:
		r.Message = r.Observed
	default:
		r.Message = fmt.Sprintf("%s calls: %s, want more than %s", api, r.Observed, percent(minShare))
	}
	return r
}

// Shed checks that the certificate issuer shed at least n logins in region
// since from.
func Shed(events []experiments.Event, api, region string, from time.Time, n int) Result {
	shed, calls := callsWith(events, api, region, from, "shed")
	r := Result{
		Required: fmt.Sprintf("at least %s shed", count(n, "request")),
		Observed: fmt.Sprintf("%s shed", ofTotal(shed, calls, "request")),
	}
	r.Passed = shed >= n
	r.Message = r.Observed
	if !r.Passed {
		r.Message = fmt.Sprintf("%s, want at least %d", r.Observed, n)
	}
	return r
}

// callsWith counts the calls to api in region (every region if empty) since
// from, and how many of them had the outcome.
func callsWith(events []experiments.Event, api, region string, from time.Time, outcome string) (matching, calls int) {
	for _, e := range events {
		if e.Kind != experiments.KindCloudCall || e.Name != api || (region != "" && e.Region != region) || e.Time.Before(from) {
			continue
		}
		calls++
		if e.Status == outcome {
			matching++
		}
	}
	return matching, calls
}

// ReadyWithin checks that every instance was Ready within d of its
// NotStarted instant (of its Unregistered one, if the group's decision was
// not seen), judged at now. It is decided once every instance is Ready or
// one of them ran out of time.
func ReadyWithin(instances []Instance, d time.Duration, now time.Time) (r Result, decided bool) {
	r.Required = fmt.Sprintf("every launched node Ready within %s of its launch", d)
	if len(instances) == 0 {
		r.Observed = "no node was launched"
		r.Message = "no node was launched: " + r.Required
		return r, false
	}
	var late, waiting []string
	var slowest time.Duration
	for _, in := range instances {
		start := in.NotStarted
		if start.IsZero() {
			start = in.Unregistered
		}
		switch {
		case !in.Ready.IsZero() && in.Ready.Sub(start) <= d:
			slowest = max(slowest, in.Ready.Sub(start))
		case !in.Ready.IsZero():
			late = append(late, fmt.Sprintf("%s (Ready after %s)", in.Node, in.Ready.Sub(start).Round(time.Millisecond)))
		case now.Sub(start) > d:
			late = append(late, fmt.Sprintf("%s (%s)", in.Node, state(in)))
		default:
			waiting = append(waiting, in.Node)
		}
	}
	sort.Strings(late)
	ready := len(instances) - len(late) - len(waiting)
	r.Observed = fmt.Sprintf("%s Ready in time, the slowest after %s", ofTotal(ready, len(instances), "node"), slowest.Round(time.Millisecond))
	switch {
	case len(late) > 0:
		r.Message = fmt.Sprintf("%s not Ready within %s: %s", count(len(late), "node"), d, list(late))
		return r, true
	case len(waiting) > 0:
		r.Message = fmt.Sprintf("%s; still waiting for %s", r.Observed, list(waiting))
		return r, false
	}
	r.Passed = true
	r.Message = r.Observed
	return r, true
}

// StillUnregistered checks that at least minShare of the instances had no
// Node object at instant at.
func StillUnregistered(instances []Instance, minShare float64, at time.Time) Result {
	var waiting []string
	for _, in := range instances {
		if in.Unready.IsZero() || in.Unready.After(at) {
			waiting = append(waiting, in.Node)
		}
	}
	share := fraction(len(waiting), len(instances))
	r := Result{
		Required: fmt.Sprintf("at least %s of launched nodes Unregistered", percent(minShare)),
		Observed: fmt.Sprintf("%s (%s) Unregistered at %s", percent(share), ofTotal(len(waiting), len(instances), "node"), at.UTC().Format(stampLayout)),
	}
	r.Passed = len(instances) > 0 && share >= minShare
	r.Message = r.Observed
	if !r.Passed {
		r.Message = fmt.Sprintf("%s, want at least %s", r.Observed, percent(minShare))
	}
	return r
}

// state names the pipeline state an instance is in.
func state(in Instance) string {
	switch {
	case !in.Ready.IsZero():
		return "Ready"
	case !in.Unready.IsZero():
		return "Unready"
	case !in.Unregistered.IsZero():
		return "Unregistered"
	}
	return "NotStarted"
}
