package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cucumber/godog"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/experiments/slo"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// pollInterval is how often a waiting verdict re-reads the timeline.
const pollInterval = 200 * time.Millisecond

// await re-evaluates check on the timeline until it passes or the deadline
// passes; the failure message is the verdict's own, naming the evidence.
func (st *state) await(ctx context.Context, deadline time.Time, check func(events []experiments.Event) slo.Result) error {
	return st.awaitDecided(ctx, deadline, st.sc.Timeline.Events, func(events []experiments.Event, _ time.Time) (slo.Result, bool) {
		r := check(events)
		return r, r.Passed
	})
}

// awaitDecided re-evaluates check on what events returns until check decides
// (passed or failed for good) or the deadline passes.
func (st *state) awaitDecided(ctx context.Context, deadline time.Time, events func() []experiments.Event,
	check func(events []experiments.Event, now time.Time) (slo.Result, bool)) error {
	clock := st.opts.Clock
	for {
		now := clock.Now()
		r, decided := check(events(), now)
		if decided || !now.Before(deadline) {
			return st.verdict(r)
		}
		if err := clock.Sleep(ctx, min(pollInterval, deadline.Sub(now)+time.Millisecond)); err != nil {
			return err
		}
	}
}

// verdict records an assertion's outcome on the timeline, for the report's
// SLO table, and turns a failure into the step's error.
func (st *state) verdict(r slo.Result) error {
	status := "passed"
	if !r.Passed {
		status = "failed"
	}
	st.sc.Timeline.Append(experiments.Event{Kind: experiments.KindVerdict, Name: st.stepText, Status: status,
		Detail: map[string]string{"required": r.Required, "observed": r.Observed}})
	if !r.Passed {
		return errors.New(r.Message)
	}
	return nil
}

// sinceFault is T of the latest fault step, which "within" counts from. It
// is called once a Then step's arguments are checked: while planning it
// reports live false and the step is done.
func (st *state) sinceFault() (from time.Time, live bool, err error) {
	if st.opts.Plan {
		return time.Time{}, false, nil
	}
	if st.sc.FaultStart.IsZero() {
		return time.Time{}, false, errors.New("no fault has been injected yet in this scenario")
	}
	return st.sc.FaultStart, true, nil
}

func (steps) withinAtLeastNotReady(ctx context.Context, n, unit, pct string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	within, err := duration(n, unit)
	if err != nil {
		return err
	}
	p, err := percent(pct)
	if err != nil {
		return err
	}
	from, live, err := st.sinceFault()
	if !live {
		return err
	}
	nodes := names(st.nodes())
	return st.await(ctx, from.Add(within), func(ev []experiments.Event) slo.Result {
		return slo.NotReadyFractionWithin(ev, nodes, from, within, p/100)
	})
}

func (steps) everyRegionHasNotReadyNodes(ctx context.Context) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	from, live, err := st.sinceFault()
	if !live {
		return err
	}
	return st.verdict(slo.EveryRegionHit(st.sc.Timeline.Events(), names(st.nodes()), from, st.opts.Clock.Now().Sub(from)))
}

// controlPlaneTimeout bounds how long a cut control plane may take to stop
// answering.
const controlPlaneTimeout = 15 * time.Second

func (steps) childControlPlanesUnreachable(ctx context.Context, where string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	clusters, err := childClusters(st, region(where))
	if err != nil {
		return err
	}
	from, live, err := st.sinceFault()
	if !live {
		return err
	}
	return st.await(ctx, from.Add(controlPlaneTimeout), func(ev []experiments.Event) slo.Result {
		return slo.ControlPlaneUnreachableWithin(ev, clusters, from, controlPlaneTimeout)
	})
}

func (steps) noChildNodeHit(ctx context.Context, where string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	if _, err := childClusters(st, region(where)); err != nil {
		return err
	}
	if st.opts.Plan {
		return nil
	}
	child := map[string]bool{}
	for _, n := range st.nodes() {
		child[n.Name] = n.ClusterRole == topology.Child
	}
	for _, e := range st.sc.Timeline.Events() {
		if e.Kind == experiments.KindSelection && child[e.Node] && (region(where) == "" || e.Region == region(where)) {
			return fmt.Errorf("child cluster node %s (%s) was hit by %s at %s", e.Node, e.Cluster, e.Name, e.Time.Format(time.RFC3339Nano))
		}
	}
	return nil
}

func (steps) allNodesReadyWithin(ctx context.Context, n, unit string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	within, err := duration(n, unit)
	if err != nil {
		return err
	}
	if st.opts.Plan {
		return nil
	}
	from := st.stepStart
	nodes := names(st.nodes())
	return st.await(ctx, from.Add(within), func(ev []experiments.Event) slo.Result {
		return slo.AllReadyWithin(ev, nodes, from, within)
	})
}

func (steps) noNodeNotReadyFor(ctx context.Context, n, unit string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	d, err := duration(n, unit)
	if err != nil {
		return err
	}
	if st.opts.Plan {
		return nil
	}
	from := st.stepStart
	nodes := names(st.nodes())
	clock := st.opts.Clock
	for {
		r := slo.NoneNotReadyFor(st.sc.Timeline.Events(), nodes, from, d)
		if !r.Passed || !clock.Now().Before(from.Add(d)) {
			return st.verdict(r)
		}
		if err := clock.Sleep(ctx, pollInterval); err != nil {
			return err
		}
	}
}

func (s steps) nodesBecameReadyInOrder(ctx context.Context, table *godog.Table) error {
	return s.nodesBecameReadyInOrderWithTolerance(ctx, "0", "seconds", table)
}

func (steps) nodesBecameReadyInOrderWithTolerance(ctx context.Context, n, unit string, table *godog.Table) error {
	tolerance, err := duration(n, unit)
	if err != nil {
		return err
	}
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	named, err := groupTable(table)
	if err != nil {
		return err
	}
	from, live, err := st.sinceFault()
	if !live {
		return err
	}
	// The hierarchy that dictates the order is per region: a child cluster
	// waits for its own region's parent, never for another region's.
	resolved := resolveGroups(st, named)
	var failures, required, observed []string
	for _, r := range st.topo.Regions {
		var groups []slo.Group
		for _, g := range resolved {
			var members []string
			for _, n := range g.Nodes {
				if n.Region == r.Name {
					members = append(members, n.Name)
				}
			}
			groups = append(groups, slo.Group{Name: g.Name, Nodes: members})
		}
		res := slo.RecoveryOrder(st.sc.Timeline.Events(), groups, from, tolerance)
		required = append(required, r.Name+": "+res.Required)
		observed = append(observed, r.Name+": "+res.Observed)
		if !res.Passed {
			failures = append(failures, "region "+r.Name+": "+res.Message)
		}
	}
	return st.verdict(slo.Result{Passed: len(failures) == 0, Required: strings.Join(required, "; "),
		Observed: strings.Join(observed, "; "), Message: strings.Join(failures, "\n")})
}

func (steps) everyChildNodeNotReady(ctx context.Context, n, unit, where string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	within, err := duration(n, unit)
	if err != nil {
		return err
	}
	clusters, err := childClusters(st, region(where))
	if err != nil {
		return err
	}
	from, live, err := st.sinceFault()
	if !live {
		return err
	}
	var nodes []string
	for _, node := range st.nodes() {
		if slices.Contains(clusters, node.Cluster) {
			nodes = append(nodes, node.Name)
		}
	}
	return st.await(ctx, from.Add(within), func(ev []experiments.Event) slo.Result {
		return slo.NotReadyFractionWithin(ev, nodes, from, within, 1)
	})
}

func (steps) groupRecoveredWithin(ctx context.Context, group, n, unit string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	limit, err := duration(n, unit)
	if err != nil {
		return err
	}
	from, live, err := st.sinceFault()
	if !live {
		return err
	}
	g := resolveGroups(st, []namedGroup{{Name: group, Scope: groupScopes[group]}})[0]
	rec := slo.TimeToRecover(st.sc.Timeline.Events(), []slo.Group{{Name: g.Name, Nodes: names(g.Nodes)}}, from)[0]
	r := slo.Result{
		Passed:   len(rec.Unrecovered) == 0 && rec.TimeToRecover <= limit,
		Required: fmt.Sprintf("the %s back within %s of the fault", group, limit),
		Observed: fmt.Sprintf("%d of %d disrupted nodes back, the last after %s", rec.Recovered, rec.Disrupted, rec.TimeToRecover.Round(time.Millisecond)),
	}
	switch {
	case len(rec.Unrecovered) > 0:
		r.Message = fmt.Sprintf("the %s did not all recover: %s still NotReady (%d of %d disrupted nodes recovered)",
			group, strings.Join(rec.Unrecovered, ", "), rec.Recovered, rec.Disrupted)
	case rec.TimeToRecover > limit:
		r.Message = fmt.Sprintf("the %s took %s to recover (last at %s), required within %s of the fault",
			group, rec.TimeToRecover.Round(time.Millisecond), rec.Last.Format(time.RFC3339Nano), limit)
	}
	return st.verdict(r)
}
