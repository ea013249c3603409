package slo

import (
	"fmt"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

// ControlPlaneUnreachableWithin holds when every cluster's control plane was
// observed unreachable at some instant in [from, from+within]. A cluster's
// reachability is the Status of its latest KindControlPlane event at or
// before an instant, so a control plane already unreachable at from counts,
// and one that became unreachable and recovered inside the window counts
// too: the assertion is that the outage was seen, not that it lasted to the
// deadline. An empty cluster list fails, since it proves nothing. On failure
// the message names each cluster never seen unreachable and its state at the
// deadline.
func ControlPlaneUnreachableWithin(events []experiments.Event, clusters []string, from time.Time, within time.Duration) Result {
	required := fmt.Sprintf("every control plane unreachable within %s", within)
	if within < 0 {
		return invalid(required, "window %s is negative", within)
	}
	clusters = unique(clusters)
	if len(clusters) == 0 {
		return Result{
			Observed: "no clusters",
			Required: required,
			Message:  "no clusters given: an experiment that cuts off no control plane proves nothing",
		}
	}
	deadline := from.Add(within)
	r := walk(reachability(events), setOf(clusters), from, deadline, func(time.Time, *replay) bool { return true })
	down := r.firstSeen(experiments.Unreachable)
	observed := ofTotal(len(down), len(clusters), "control plane") + " observed unreachable"
	if len(down) == len(clusters) {
		last := down[len(down)-1]
		return Result{
			Passed:   true,
			Observed: observed,
			Required: required,
			Message: fmt.Sprintf("all %s observed unreachable within %s of %s; last: %s at %s",
				count(len(clusters), "control plane"), within, stamp(from, from), last, stamp(r.first[experiments.Unreachable][last].at, from)),
		}
	}
	var missed []string
	for _, c := range sorted(clusters) {
		if _, ok := r.first[experiments.Unreachable][c]; ok {
			continue
		}
		if st, known := r.status[c]; known {
			missed = append(missed, fmt.Sprintf("%s (%s since %s)", c, st, stamp(r.since[c], from)))
		} else {
			missed = append(missed, c+" (no control-plane event)")
		}
	}
	return Result{
		Observed: observed,
		Required: required,
		Message: fmt.Sprintf("%s never observed unreachable by deadline %s, required %s of %s: %s",
			ofTotal(len(missed), len(clusters), "control plane"), stamp(deadline, from), required, stamp(from, from), list(missed)),
	}
}
