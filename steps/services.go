package steps

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/experiments/slo"
	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

func (steps) serviceRunsSharded(ctx context.Context, name string) error {
	return declareService(ctx, infra.ServiceSpec{Name: name, Kind: "sharded"})
}

func (steps) serviceRunsAsQuorum(ctx context.Context, name, replicas string) error {
	r, err := strconv.Atoi(replicas)
	if err != nil || r < 1 || r%2 == 0 {
		return fmt.Errorf("a %s-replica quorum: want an odd number of replicas, at least 1", replicas)
	}
	return declareService(ctx, infra.ServiceSpec{Name: name, Kind: "quorum", Replicas: r})
}

// declareService records a service to run on every child cluster; it starts
// with the fleet, or at once if the fleet is already up.
func declareService(ctx context.Context, spec infra.ServiceSpec) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	if st.topo == nil {
		return errors.New("describe the fleet before its services (\"Given a fleet on the lab:\")")
	}
	for _, s := range st.services {
		if s.Name == spec.Name {
			return fmt.Errorf("service %q is declared twice", spec.Name)
		}
	}
	for _, rc := range st.topo.Clusters() {
		if rc.Cluster.Role != topology.Child {
			continue
		}
		spec.Clusters = append(spec.Clusters, rc.Cluster.Name)
		if spec.Kind == "quorum" && rc.Cluster.Workers < spec.Replicas {
			return fmt.Errorf("a %d-replica quorum does not fit on child cluster %s of %d nodes", spec.Replicas, rc.Cluster.Name, rc.Cluster.Workers)
		}
	}
	if len(spec.Clusters) == 0 {
		return errors.New("the fleet has no child cluster to run the service on")
	}
	st.services = append(st.services, spec)
	st.planf("service %s: %s on %d child clusters", spec.Name, spec.Kind, len(spec.Clusters))
	if st.sc.Fleet != nil && !st.opts.Plan {
		return st.sc.StartService(ctx, spec)
	}
	return nil
}

// service checks that the scenario runs the named service.
func (st *state) service(name string) error {
	var known []string
	for _, s := range st.services {
		if s.Name == name {
			return nil
		}
		known = append(known, s.Name)
	}
	if len(known) == 0 {
		return fmt.Errorf("unknown service %q: the scenario runs no service", name)
	}
	return fmt.Errorf("unknown service %q (the scenario runs %s)", name, strings.Join(known, ", "))
}

func (steps) keepsServingInEveryRegion(ctx context.Context, name, pct string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	p, err := percent(pct)
	if err != nil {
		return err
	}
	if err := st.service(name); err != nil {
		return err
	}
	from, live, err := st.sinceFault()
	if !live {
		return err
	}
	return st.verdict(slo.AvailabilityPerRegion(st.sc.Timeline.Events(), name, from, st.opts.Clock.Now(), availabilityBucket, p/100))
}

// availabilityBucket is the stretch over which "keeps serving" is judged:
// every such stretch must meet the floor, not only the average.
const availabilityBucket = 2 * time.Second

// unavailableFor is how long a cluster must answer nothing to count as
// unavailable, and unavailableWithin how long after the fault that may take.
const (
	unavailableFor    = 2 * time.Second
	unavailableWithin = 30 * time.Second
)

func (steps) unavailableInSomeChildCluster(ctx context.Context, name string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	if err := st.service(name); err != nil {
		return err
	}
	from, live, err := st.sinceFault()
	if !live {
		return err
	}
	return st.await(ctx, from.Add(unavailableWithin), func(ev []experiments.Event) slo.Result {
		return slo.UnavailableInSomeCluster(ev, name, from, st.opts.Clock.Now(), unavailableFor)
	})
}

// measureWindow is how long availability is measured for at the end of a
// recovery deadline.
const measureWindow = 5 * time.Second

func (steps) servesAfterAllReady(ctx context.Context, name, pct, n, unit string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	p, err := percent(pct)
	if err != nil {
		return err
	}
	within, err := duration(n, unit)
	if err != nil {
		return err
	}
	if within < measureWindow {
		return fmt.Errorf("%s is too short: availability is measured over the last %s", within, measureWindow)
	}
	if err := st.service(name); err != nil || st.opts.Plan {
		return err
	}
	allReady, err := st.allReadySince()
	if err != nil {
		return err
	}
	end := allReady.Add(within)
	if err := st.opts.Clock.Sleep(ctx, end.Sub(st.opts.Clock.Now())+pollInterval); err != nil {
		return err
	}
	return st.verdict(slo.AvailabilityAtLeast(st.sc.Timeline.Events(), name, end.Add(-measureWindow), end, p/100))
}

// allReadySince is when the last node became Ready, if every node is Ready
// now.
func (st *state) allReadySince() (time.Time, error) {
	ready := st.sc.Readiness()
	var notReady []string
	for _, n := range st.nodes() {
		if ready[n.Name] != experiments.Ready {
			notReady = append(notReady, n.Name)
		}
	}
	if len(notReady) > 0 {
		sort.Strings(notReady)
		return time.Time{}, fmt.Errorf("not every node is Ready: %s", strings.Join(notReady, ", "))
	}
	var last time.Time
	for _, e := range st.sc.Timeline.Events() {
		if e.Kind == experiments.KindNodeReady && e.Status == experiments.Ready && e.Time.After(last) {
			last = e.Time
		}
	}
	return last, nil
}
