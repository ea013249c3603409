package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/cucumber/godog"

	"github.com/aftershock-sre/aftershock/experiments/action"
	"github.com/aftershock-sre/aftershock/experiments/scenario"
	"github.com/aftershock-sre/aftershock/experiments/target"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

func (steps) networkdRestartsOnPercent(ctx context.Context, pct, where, n, unit string) error {
	p, err := percent(pct)
	if err != nil {
		return err
	}
	return restartNetworkd(ctx, target.Amount{Percent: p}, whereScope(where), n, unit)
}

func (steps) networkdRestartsOnCountPerCluster(ctx context.Context, num, role, where, n, unit string) error {
	c, err := count(num)
	if err != nil {
		return err
	}
	scope := whereScope(where)
	scope.ClusterRole = topology.ClusterRole(role)
	return restartNetworkd(ctx, target.Amount{Count: c, PerCluster: true}, scope, n, unit)
}

// everyKinds maps "every <kind>" phrases to scopes.
var everyKinds = map[string]target.Scope{
	"parent worker":             {ClusterRole: topology.Parent, NodeRole: topology.Worker},
	"parent control-plane node": {ClusterRole: topology.Parent, NodeRole: topology.ControlPlane},
	"child cluster node":        {ClusterRole: topology.Child},
	"node":                      {},
}

func (steps) networkdRestartsOnEvery(ctx context.Context, kind, where, n, unit string) error {
	scope := whereScope(where)
	scope.ClusterRole, scope.NodeRole = everyKinds[kind].ClusterRole, everyKinds[kind].NodeRole
	return restartNetworkd(ctx, target.Amount{All: true}, scope, n, unit)
}

func restartNetworkd(ctx context.Context, amount target.Amount, scope target.Scope, n, unit string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	window, err := duration(n, unit)
	if err != nil {
		return err
	}
	if err := st.ensureFleet(ctx); err != nil {
		return err
	}
	nodes := st.nodes()
	sel, err := target.Select(nodes, target.Spec{Amount: amount, Scope: scope, Window: window, Seed: st.opts.Seed})
	if err != nil {
		return err
	}
	if err := st.opts.BlastRadius.check(len(sel.Picks), len(nodes)); err != nil {
		return err
	}
	// A fleet may cap lower than its provider (a Terraform inventory's
	// max_blast_radius).
	if capped, ok := st.sc.Fleet.(interface{ CheckBlastRadius(int) error }); ok && !st.opts.BlastRadius.Lifted {
		if err := capped.CheckBlastRadius(len(sel.Picks)); err != nil {
			return err
		}
	}
	if st.opts.Plan {
		st.planf("networkd-restart: %s", sel)
		for _, p := range sel.Picks {
			st.planf("  T+%-8s %s (%s)", p.Offset.Round(1e6), p.Node.Name, p.Node.Cluster)
		}
		return nil
	}
	return st.sc.RestartNetworkd(ctx, sel)
}

func (steps) operatorsRebootInOrder(ctx context.Context, parallel string, table *godog.Table) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	width, err := count(parallel)
	if err != nil {
		return fmt.Errorf("reboot parallelism: %w", err)
	}
	named, err := groupTable(table)
	if err != nil {
		return err
	}
	if err := st.ensureFleet(ctx); err != nil {
		return err
	}
	groups := resolveGroups(st, named)
	if st.opts.Plan {
		for _, g := range groups {
			st.planf("reboot the NotReady nodes of %s (%d nodes in the group), %d at a time", g.Name, len(g.Nodes), width)
		}
		return nil
	}
	return st.sc.RebootBroken(ctx, groups, width)
}

// resolveGroups turns group names into the fleet's nodes.
func resolveGroups(st *state, named []namedGroup) []action.Group {
	nodes := st.nodes()
	groups := make([]action.Group, len(named))
	for i, g := range named {
		groups[i].Name = g.Name
		for _, n := range nodes {
			if g.Scope.Matches(n.Node) {
				groups[i].Nodes = append(groups[i].Nodes, n)
			}
		}
	}
	return groups
}

// childClusters lists the child clusters of a region ("" for all), failing
// on a region the fleet does not have.
func childClusters(st *state, where string) ([]string, error) {
	if st.topo == nil {
		return nil, scenario.ErrNoFleet
	}
	var out, regions []string
	found := where == ""
	for _, rc := range st.topo.Clusters() {
		if rc.Region.Name == where {
			found = true
		}
		if (where == "" || rc.Region.Name == where) && rc.Cluster.Role == topology.Child {
			out = append(out, rc.Cluster.Name)
		}
	}
	for _, r := range st.topo.Regions {
		regions = append(regions, r.Name)
	}
	if !found {
		return nil, fmt.Errorf("unknown region %q (the fleet has %s)", where, strings.Join(regions, ", "))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("region %q has no child cluster", where)
	}
	return out, nil
}

func (steps) operatorsTakeToReact(ctx context.Context, n, unit string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	d, err := duration(n, unit)
	if err != nil || st.opts.Plan {
		return err
	}
	return st.opts.Clock.Sleep(ctx, d)
}

// BlastRadius caps the share of a fleet's nodes one fault step may hit.
type BlastRadius struct {
	// Max is the largest share, in (0, 1]; 0 means 1 (global).
	Max float64
	// Provider names whose default the cap is, for the message.
	Provider string
	// Lifted says the run lifted the cap (--allow-global-blast-radius):
	// neither this cap nor the fleet's own applies.
	Lifted bool
}

// String describes the cap, e.g. "34% of nodes per fault (terraform)".
func (b BlastRadius) String() string {
	if b.Max <= 0 || b.Max >= 1 {
		if b.Provider == "" {
			return "none: a fault may hit every node"
		}
		return "none: a fault may hit every node (" + b.Provider + ")"
	}
	return fmt.Sprintf("%.0f%% of nodes per fault (%s; --allow-global-blast-radius lifts it)", 100*b.Max, b.Provider)
}

// check refuses a selection of picked nodes of total beyond the cap.
func (b BlastRadius) check(picked, total int) error {
	if b.Lifted || b.Max <= 0 || b.Max >= 1 || total == 0 {
		return nil
	}
	if share := float64(picked) / float64(total); share > b.Max {
		return fmt.Errorf("the fault would hit %d of %d nodes (%.1f%%), beyond the %s blast-radius cap of %.0f%%; "+
			"run with --allow-global-blast-radius to lift it", picked, total, 100*share, b.Provider, 100*b.Max)
	}
	return nil
}
