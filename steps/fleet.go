package steps

import (
	"context"
	"errors"
	"time"

	"github.com/cucumber/godog"

	"github.com/aftershock-sre/aftershock/infra/topology"
)

type steps struct{}

func (steps) aFleetOnTheLab(ctx context.Context, table *godog.Table) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	topo, err := fleetTable(table, st.source)
	if err != nil {
		return err
	}
	if st.opts.Fleet != nil {
		st.planf("fleet table replaced by %s", st.opts.Fleet.Source)
		topo = *st.opts.Fleet
	}
	st.topo = &topo
	st.planf("fleet: %d regions, %d clusters, %d nodes", len(topo.Regions), len(topo.Clusters()), len(topo.Nodes()))
	st.planf("blast-radius cap: %s", st.opts.BlastRadius)
	return nil
}

func (steps) networkdManagesForeignRules(ctx context.Context, value string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	st.sc.Networkd.ManageForeignRoutingPolicyRules = yes(value)
	return nil
}

func (steps) networkdManagesForeignRoutes(ctx context.Context, value string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	st.sc.Networkd.ManageForeignRoutes = yes(value)
	return nil
}

func (steps) cniRuleProtocol(ctx context.Context, proto string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	if st.topo == nil {
		return errors.New("describe the fleet before its CNI (\"Given a fleet on the lab:\")")
	}
	if st.sc.Fleet != nil {
		return errors.New("the CNI's rule protocol must be set before the fleet is built")
	}
	st.topo.CNI.RuleProtocol = topology.RuleProtocol(proto)
	return nil
}

func (steps) allNodesAreReady(ctx context.Context) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	if err := st.ensureFleet(ctx); err != nil {
		return err
	}
	if st.opts.Plan {
		return nil
	}
	return st.sc.WaitAllReady(ctx, 3*time.Minute)
}
