package slo

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

// requests returns the service's request events in [from, to], in time order.
func requests(events []experiments.Event, service string, from, to time.Time) []experiments.Event {
	var out []experiments.Event
	for _, e := range events {
		if e.Kind == experiments.KindRequest && e.Name == service && !e.Time.Before(from) && !e.Time.After(to) {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Availability is the share of a service's requests in [from, to] that
// succeeded, with the counts.
func Availability(events []experiments.Event, service string, from, to time.Time) (share float64, ok, total int) {
	for _, e := range requests(events, service, from, to) {
		total++
		if e.Status == experiments.OK {
			ok++
		}
	}
	return fraction(ok, total), ok, total
}

// AvailabilityPerRegion checks that in every region the service kept
// serving at least minShare of its requests throughout [from, to]: in every
// bucket-long stretch (the last one may be shorter), not just on average. A
// region without requests fails: nothing was proven there.
func AvailabilityPerRegion(events []experiments.Event, service string, from, to time.Time, bucket time.Duration, minShare float64) Result {
	type count struct{ ok, total int }
	type key struct {
		region string
		slot   int
	}
	counts := map[key]*count{}
	regions := map[string]bool{}
	for _, e := range requests(events, service, from, to) {
		k := key{e.Region, int(e.Time.Sub(from) / bucket)}
		c := counts[k]
		if c == nil {
			c = &count{}
			counts[k] = c
		}
		c.total++
		if e.Status == experiments.OK {
			c.ok++
		}
		regions[e.Region] = true
	}
	required := fmt.Sprintf("%q serving at least %s of requests in every region, in every %s from %s to %s",
		service, percent(minShare), bucket, stamp(from, from), stamp(to, from))
	if len(regions) == 0 {
		return Result{Required: required, Observed: "no requests", Message: fmt.Sprintf("no request to %q between %s and %s: nothing was probed", service, stamp(from, from), stamp(to, from))}
	}
	names := make([]string, 0, len(regions))
	for r := range regions {
		names = append(names, r)
	}
	sort.Strings(names)
	var observed, failing []string
	for _, r := range names {
		worst, worstSlot := 2.0, 0
		var worstCount count
		for k, c := range counts {
			if k.region != r {
				continue
			}
			if share := fraction(c.ok, c.total); share < worst || (share == worst && k.slot < worstSlot) {
				worst, worstSlot, worstCount = share, k.slot, *c
			}
		}
		at := from.Add(time.Duration(worstSlot) * bucket)
		line := fmt.Sprintf("%s at worst %s (%d of %d) from %s", r, percent(worst), worstCount.ok, worstCount.total, stamp(at, from))
		observed = append(observed, line)
		if worst+1e-9 < minShare {
			failing = append(failing, line)
		}
	}
	res := Result{Passed: len(failing) == 0, Required: required, Observed: strings.Join(observed, ", ")}
	if res.Passed {
		res.Message = fmt.Sprintf("%q served %s", service, res.Observed)
	} else {
		res.Message = fmt.Sprintf("%q served less than %s: %s; required %s", service, percent(minShare), strings.Join(failing, ", "), required)
	}
	return res
}

// UnavailableInSomeCluster checks that in at least one cluster, the service
// answered no request during some stretch of window within [from, to], with
// at least 3 requests in that stretch.
func UnavailableInSomeCluster(events []experiments.Event, service string, from, to time.Time, window time.Duration) Result {
	byCluster := map[string][]experiments.Event{}
	for _, e := range requests(events, service, from, to) {
		byCluster[e.Cluster] = append(byCluster[e.Cluster], e)
	}
	required := fmt.Sprintf("%q answering no request for %s in at least one cluster between %s and %s", service, window, stamp(from, from), stamp(to, from))
	clusters := make([]string, 0, len(byCluster))
	for c := range byCluster {
		clusters = append(clusters, c)
	}
	sort.Strings(clusters)
	var best []string
	for _, c := range clusters {
		reqs := byCluster[c]
		start := -1 // first request of the current run of failures
		for i, e := range reqs {
			if e.Status == experiments.OK {
				start = -1
				continue
			}
			if start < 0 {
				start = i
			}
			if i-start+1 >= 3 && e.Time.Sub(reqs[start].Time) >= window {
				return Result{Passed: true, Required: required,
					Observed: fmt.Sprintf("%s: %d requests failed from %s to %s", c, i-start+1, stamp(reqs[start].Time, from), stamp(e.Time, from)),
					Message:  fmt.Sprintf("%q was unavailable in %s from %s to %s", service, c, stamp(reqs[start].Time, from), stamp(e.Time, from))}
			}
		}
		share, ok, total := Availability(reqs, service, from, to)
		best = append(best, fmt.Sprintf("%s %s (%d of %d)", c, percent(share), ok, total))
	}
	return Result{Required: required, Observed: strings.Join(best, ", "),
		Message: fmt.Sprintf("%q never went unavailable for %s in any cluster: %s; required %s", service, window, strings.Join(best, ", "), required)}
}

// AvailabilityAtLeast checks the service's overall share of successful
// requests in [from, to].
func AvailabilityAtLeast(events []experiments.Event, service string, from, to time.Time, minShare float64) Result {
	share, ok, total := Availability(events, service, from, to)
	required := fmt.Sprintf("%q serving at least %s of requests from %s to %s", service, percent(minShare), stamp(from, from), stamp(to, from))
	observed := fmt.Sprintf("%s (%d of %d requests)", percent(share), ok, total)
	res := Result{Passed: total > 0 && share+1e-9 >= minShare, Required: required, Observed: observed}
	switch {
	case total == 0:
		res.Message = fmt.Sprintf("no request to %q between %s and %s: nothing was probed", service, stamp(from, from), stamp(to, from))
	case res.Passed:
		res.Message = fmt.Sprintf("%q served %s", service, observed)
	default:
		var failed []string
		for _, e := range requests(events, service, from, to) {
			if e.Status != experiments.OK && len(failed) < 3 {
				failed = append(failed, fmt.Sprintf("%s at %s (%s)", e.Node, stamp(e.Time, from), e.Detail["error"]))
			}
		}
		res.Message = fmt.Sprintf("%q served %s; required at least %s; failures include %s", service, observed, percent(minShare), strings.Join(failed, ", "))
	}
	return res
}
