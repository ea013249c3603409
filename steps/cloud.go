package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/experiments/slo"
	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/cloud"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// statusCheckInterval is the lab's instance status check period: EC2 checks
// every minute; the lab compresses time.
const statusCheckInterval = time.Second

// cloudSpec returns the declared cloud of an aws region, creating it with
// the defaults on first use. A region the fleet does not have, or one on
// another cloud, is an error naming the regions that would do.
func (st *state) cloudSpec(name string) (*infra.RegionCloudSpec, error) {
	if st.topo == nil {
		return nil, fmt.Errorf("describe the fleet before the cloud of %s (\"Given a fleet on the lab:\")", name)
	}
	var aws []string
	found := false
	for _, r := range st.topo.Regions {
		if r.Cloud == topology.AWS {
			aws = append(aws, r.Name)
		}
		if r.Name != name {
			continue
		}
		found = true
		if r.Cloud != topology.AWS {
			return nil, fmt.Errorf("region %s runs on %s: only aws regions have auto-scaling groups, a cloud API and a certificate issuer (aws regions: %s)",
				name, r.Cloud, orNone(aws))
		}
	}
	if !found {
		return nil, fmt.Errorf("unknown region %q: the fleet has %s", name, strings.Join(regionNames(st.topo), ", "))
	}
	if st.clouds == nil {
		st.clouds = map[string]*infra.RegionCloudSpec{}
	}
	spec := st.clouds[name]
	if spec == nil {
		spec = &infra.RegionCloudSpec{
			Region:        name,
			Limits:        cloud.DefaultLimits(),
			CheckInterval: statusCheckInterval,
			NetworkRetry:  cloud.ExponentialRetry(100*time.Millisecond, 5*time.Second),
		}
		st.clouds[name] = spec
		st.cloudOrder = append(st.cloudOrder, name)
	}
	return spec, nil
}

func regionNames(t *topology.Topology) []string {
	out := make([]string, len(t.Regions))
	for i, r := range t.Regions {
		out[i] = r.Name
	}
	return out
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

// declareCloud changes a region's declared cloud. Before the fleet runs it
// only records the change; once the region's cloud runs, limits change live
// and anything else is refused.
func (st *state) declareCloud(ctx context.Context, name, what string, limitsOnly bool, change func(*infra.RegionCloudSpec)) error {
	spec, err := st.cloudSpec(name)
	if err != nil {
		return err
	}
	change(spec)
	if err := spec.Limits.Validate(); err != nil {
		return fmt.Errorf("the cloud of %s: %w", name, err)
	}
	if err := spec.NetworkRetry.Validate(); err != nil {
		return fmt.Errorf("the network operator: %w", err)
	}
	st.planf("cloud %s: %s", name, what)
	if st.opts.Plan || st.sc.Fleet == nil {
		return nil
	}
	rc, running := st.sc.Cloud(name)
	switch {
	case running && limitsOnly:
		return rc.SetLimits(spec.Limits)
	case running:
		return fmt.Errorf("the cloud of %s already runs: declare its auto-scaling groups and network operator before the fleet is built", name)
	}
	return st.sc.StartCloud(ctx, *spec)
}

// startClouds starts every declared cloud once the fleet is up.
func (st *state) startClouds(c context.Context) error {
	for _, name := range st.cloudOrder {
		if err := st.sc.StartCloud(c, *st.clouds[name]); err != nil {
			return err
		}
	}
	return nil
}

// networkOperatorRetry applies one retry policy to every aws region the
// fleet has.
func (st *state) networkOperatorRetry(ctx context.Context, policy cloud.RetryPolicy) error {
	if err := policy.Validate(); err != nil {
		return fmt.Errorf("the network operator: %w", err)
	}
	if st.topo == nil {
		return fmt.Errorf("describe the fleet before its network operator (\"Given a fleet on the lab:\")")
	}
	hasAWS := false
	for _, r := range st.topo.Regions {
		if r.Cloud != topology.AWS {
			continue
		}
		hasAWS = true
		if err := st.declareCloud(ctx, r.Name, "network operator retries "+policy.String(), false, func(s *infra.RegionCloudSpec) {
			s.NetworkRetry = policy
		}); err != nil {
			return err
		}
	}
	if !hasAWS {
		return fmt.Errorf("the fleet has no aws region, so no network operator creates interfaces")
	}
	return nil
}

// atLeastOne reads a whole number of at least 1 of what.
func atLeastOne(s, what string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s %s: want at least 1", s, what)
	}
	return n, nil
}

func (steps) autoScalingReplacesAfter(ctx context.Context, region, checks string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	n, err := atLeastOne(checks, "failed status checks")
	if err != nil {
		return err
	}
	return st.declareCloud(ctx, region, fmt.Sprintf("auto-scaling groups replace a node after %d failed status checks", n), false,
		func(s *infra.RegionCloudSpec) { s.FailedChecks = n })
}

func (steps) cloudAPIAllows(ctx context.Context, region, rate, api string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	perSecond, perr := strconv.ParseFloat(rate, 64)
	r, err := cloud.NewRate(perSecond, 0)
	if perr != nil || err != nil {
		return fmt.Errorf("%s %s calls per second: want more than 0", rate, api)
	}
	return st.declareCloud(ctx, region, fmt.Sprintf("%s limited to %s", api, r), true, func(s *infra.RegionCloudSpec) {
		switch api {
		case cloud.APIRunInstances:
			s.Limits.RunInstances = r
		case cloud.APIDescribeInstances:
			s.Limits.DescribeInstances = r
		case cloud.APICreateNetworkInterface:
			s.Limits.CreateNetworkInterface = r
		}
	})
}

func (steps) instanceQuota(ctx context.Context, region, quota string) error {
	return declareCountLimit(ctx, region, quota, "instances", "at most %d instances (RunInstances beyond it: InstanceLimitExceeded)",
		func(s *infra.RegionCloudSpec, n int) { s.Limits.InstanceQuota = n })
}

func (steps) issuerServesAtMost(ctx context.Context, region, concurrent string) error {
	return declareCountLimit(ctx, region, concurrent, "concurrent requests", "certificate issuer serves %d concurrent requests",
		func(s *infra.RegionCloudSpec, n int) { s.Limits.IssuerConcurrency = n })
}

// declareCountLimit sets a limit that is a whole number of at least 1 of
// what, live if the region's cloud runs; describe formats it for the plan.
func declareCountLimit(ctx context.Context, region, value, what, describe string, set func(*infra.RegionCloudSpec, int)) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	n, err := atLeastOne(value, what)
	if err != nil {
		return err
	}
	return st.declareCloud(ctx, region, fmt.Sprintf(describe, n), true, func(s *infra.RegionCloudSpec) { set(s, n) })
}

func (steps) issuerTakesPerLogin(ctx context.Context, region, n, unit string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	d, err := duration(n, unit)
	if err != nil {
		return err
	}
	return st.declareCloud(ctx, region, fmt.Sprintf("certificate issuer takes %s per login", d), true,
		func(s *infra.RegionCloudSpec) { s.Limits.IssuerLatency = d })
}

func (steps) networkOperatorRetriesEvery(ctx context.Context, n, unit string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	d, err := duration(n, unit)
	if err != nil {
		return err
	}
	return st.networkOperatorRetry(ctx, cloud.FixedRetry(d))
}

func (steps) networkOperatorBacksOff(ctx context.Context, n1, unit1, n2, unit2 string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	from, err := duration(n1, unit1)
	if err != nil {
		return err
	}
	to, err := duration(n2, unit2)
	if err != nil {
		return err
	}
	return st.networkOperatorRetry(ctx, cloud.ExponentialRetry(from, to))
}

func (steps) autoScalingGroupScalesUp(ctx context.Context, cluster, nodes string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	n, err := count(nodes)
	if err != nil {
		return err
	}
	if st.topo == nil {
		return fmt.Errorf("describe the fleet before scaling it (\"Given a fleet on the lab:\")")
	}
	var region string
	for _, rc := range st.topo.Clusters() {
		if rc.Cluster.Name == cluster {
			region = rc.Region.Name
		}
	}
	if region == "" {
		return fmt.Errorf("unknown cluster %q", cluster)
	}
	if _, err := st.cloudSpec(region); err != nil {
		return err
	}
	st.planf("scale-up: %d new nodes in %s (%s)", n, cluster, region)
	if st.opts.Plan {
		return nil
	}
	if err := st.ensureFleet(ctx); err != nil {
		return err
	}
	return st.sc.ScaleUp(ctx, region, cluster, n)
}

// launched lists the nodes launched in region by replacement or scale-up.
func launched(events []experiments.Event, region, which string) []slo.Instance {
	return slo.Instances(events, region, which == "replaced")
}

// instanceEvents are the events the launched-node verdicts read: a herd's
// cloud calls are left out, there may be a thousand a second of them.
func (st *state) instanceEvents() []experiments.Event {
	return st.sc.Timeline.Kinds(experiments.KindInstance, experiments.KindNodeReady)
}

func (steps) replacedStayUnready(ctx context.Context, pct, region, n, unit string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	p, err := percent(pct)
	if err != nil {
		return err
	}
	d, err := duration(n, unit)
	if err != nil {
		return err
	}
	if _, err := st.cloudSpec(region); err != nil {
		return err
	}
	from, live, err := st.sinceFault()
	if !live {
		return err
	}
	// Replacements take the status checks plus a launch; allow two minutes
	// for them to appear and register, then the time they must stay.
	deadline := from.Add(2*time.Minute + d)
	return st.awaitDecided(ctx, deadline, st.instanceEvents, func(ev []experiments.Event, now time.Time) (slo.Result, bool) {
		return slo.StayedUnready(launched(ev, region, "replaced"), p/100, d, now)
	})
}

func (steps) callsThrottled(ctx context.Context, pct, api, region string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	p, err := strconv.ParseFloat(pct, 64)
	if err != nil || p < 0 || p >= 100 {
		return fmt.Errorf("more than %s%%: want a share from 0%% to below 100%%", pct)
	}
	if _, err := st.cloudSpec(region); err != nil {
		return err
	}
	if st.opts.Plan {
		return nil
	}
	return st.verdict(slo.ThrottledShare(st.sc.Timeline.Kinds(experiments.KindCloudCall), api, region, time.Time{}, p/100))
}

func (steps) issuerShed(ctx context.Context, region, n string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	want, err := atLeastOne(n, "requests")
	if err != nil {
		return err
	}
	if _, err := st.cloudSpec(region); err != nil {
		return err
	}
	if st.opts.Plan {
		return nil
	}
	return st.verdict(slo.Shed(st.sc.Timeline.Kinds(experiments.KindCloudCall), cloud.APIIssuerLogin, region, time.Time{}, want))
}

func (steps) launchedReadyWithin(ctx context.Context, which, region, n, unit string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	d, err := duration(n, unit)
	if err != nil {
		return err
	}
	if _, err := st.cloudSpec(region); err != nil {
		return err
	}
	if st.opts.Plan {
		return nil
	}
	deadline := st.opts.Clock.Now().Add(d + 2*time.Minute)
	return st.awaitDecided(ctx, deadline, st.instanceEvents, func(ev []experiments.Event, now time.Time) (slo.Result, bool) {
		return slo.ReadyWithin(launched(ev, region, which), d, now)
	})
}

func (steps) newNodesStillUnregistered(ctx context.Context, n, unit, pct, region string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	d, err := duration(n, unit)
	if err != nil {
		return err
	}
	p, err := percent(pct)
	if err != nil {
		return err
	}
	if _, err := st.cloudSpec(region); err != nil {
		return err
	}
	if st.opts.Plan {
		return nil
	}
	at := st.stepStart.Add(d)
	if err := st.opts.Clock.Sleep(ctx, at.Sub(st.opts.Clock.Now())); err != nil {
		return err
	}
	return st.verdict(slo.StillUnregistered(launched(st.instanceEvents(), region, "new"), p/100, at))
}
