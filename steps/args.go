package steps

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"

	"github.com/aftershock-sre/aftershock/experiments/target"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// duration reads "<n> millisecond(s)", "<n> second(s)" or "<n> minute(s)"
// as matched by the phrases' (\d+) (seconds?|minutes?) groups (and, where a
// phrase allows them, milliseconds?).
func duration(n, unit string) (time.Duration, error) {
	if n == "" {
		return 0, nil
	}
	v, err := strconv.Atoi(n)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a whole number of %s", n, unit)
	}
	if v > maxDurationCount { // more would overflow time.Duration in minutes
		return 0, fmt.Errorf("%q %s is too long (want at most %d)", n, unit, maxDurationCount)
	}
	switch {
	case strings.HasPrefix(unit, "minute"):
		return time.Duration(v) * time.Minute, nil
	case strings.HasPrefix(unit, "millisecond"):
		return time.Duration(v) * time.Millisecond, nil
	}
	return time.Duration(v) * time.Second, nil
}

// maxDurationCount bounds the number in a duration, whatever its unit.
const maxDurationCount = 100_000_000

// percent reads a percentage of nodes, which must be in (0, 100].
func percent(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0 && v <= 100) { // NaN too
		return 0, fmt.Errorf("%s%% is not a share of nodes (want more than 0%% and at most 100%%)", s)
	}
	return v, nil
}

// count reads a number of nodes, at least 1.
func count(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%s nodes: want at least 1 node", s)
	}
	return v, nil
}

// region reads "all regions" (no region scope) or a region name.
func region(s string) string {
	if s == "all regions" {
		return ""
	}
	return s
}

// whereScope reads where a fault lands: "all regions", "all aws regions"
// (every region on that cloud) or a region name.
func whereScope(s string) target.Scope {
	if cloud, ok := strings.CutPrefix(s, "all "); ok {
		if cloud, ok := strings.CutSuffix(cloud, " regions"); ok && cloud != "" {
			return target.Scope{Cloud: topology.Cloud(cloud)}
		}
	}
	return target.Scope{Region: region(s)}
}

// groupScopes maps the group names of order tables to node scopes.
var groupScopes = map[string]target.Scope{
	"parent control-plane nodes": {ClusterRole: topology.Parent, NodeRole: topology.ControlPlane},
	"parent workers":             {ClusterRole: topology.Parent, NodeRole: topology.Worker},
	"parent nodes":               {ClusterRole: topology.Parent},
	"child cluster nodes":        {ClusterRole: topology.Child},
	"all nodes":                  {},
}

var groupOrder = []string{"parent control-plane nodes", "parent workers", "parent nodes", "child cluster nodes", "all nodes"}

// namedGroup is one row of an order table.
type namedGroup struct {
	Name  string
	Scope target.Scope
}

// groupTable reads a one-column table of group names, in order.
func groupTable(t *godog.Table) ([]namedGroup, error) {
	if t == nil || len(t.Rows) == 0 {
		return nil, fmt.Errorf("the step needs a table of groups, one per row: %s", strings.Join(quoteAll(Groups()), ", "))
	}
	var groups []namedGroup
	seen := map[string]bool{}
	for i, row := range t.Rows {
		if len(row.Cells) != 1 {
			return nil, fmt.Errorf("table row %d has %d cells: want one group name per row", i+1, len(row.Cells))
		}
		name := strings.TrimSpace(row.Cells[0].Value)
		scope, ok := groupScopes[name]
		if !ok {
			return nil, fmt.Errorf("table row %d: unknown group %q (want one of %s)", i+1, name, strings.Join(quoteAll(Groups()), ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("table row %d: group %q is listed twice", i+1, name)
		}
		seen[name] = true
		groups = append(groups, namedGroup{Name: name, Scope: scope})
	}
	return groups, nil
}

// fleetColumns are the columns of the fleet table, in order.
var fleetColumns = []string{"region", "cloud", "parent control-plane nodes", "parent workers", "child clusters", "nodes per child cluster"}

// fleetTable reads the fleet table into a topology: per region a parent
// cluster "<region>-parent" and child clusters "<region>-app<i>".
func fleetTable(t *godog.Table, source string) (topology.Topology, error) {
	if t == nil || len(t.Rows) < 2 {
		return topology.Topology{}, fmt.Errorf("the fleet table needs a header row (%s) and one row per region", strings.Join(fleetColumns, " | "))
	}
	header := t.Rows[0].Cells
	if len(header) != len(fleetColumns) {
		return topology.Topology{}, fmt.Errorf("the fleet table has %d columns: want %s", len(header), strings.Join(fleetColumns, " | "))
	}
	for i, c := range header {
		if strings.TrimSpace(c.Value) != fleetColumns[i] {
			return topology.Topology{}, fmt.Errorf("fleet table column %d is %q: want %q", i+1, c.Value, fleetColumns[i])
		}
	}
	topo := topology.Topology{Name: "fleet", Source: source}
	for i, row := range t.Rows[1:] {
		cells := make([]string, len(row.Cells))
		for j, c := range row.Cells {
			cells[j] = strings.TrimSpace(c.Value)
		}
		if len(cells) != len(fleetColumns) {
			return topology.Topology{}, fmt.Errorf("fleet table row %d has %d cells: want %d", i+1, len(cells), len(fleetColumns))
		}
		nums := make([]int, 4)
		for j := range nums {
			v, err := strconv.Atoi(cells[2+j])
			if err != nil || v < 0 || v > topology.MaxNodes {
				return topology.Topology{}, fmt.Errorf("fleet table row %d (%s): %s is %q: want a whole number from 0 to %d", i+1, cells[0], fleetColumns[2+j], cells[2+j], topology.MaxNodes)
			}
			nums[j] = v
		}
		r := topology.Region{Name: cells[0], Cloud: topology.Cloud(cells[1])}
		parent := r.Name + "-parent"
		r.Clusters = append(r.Clusters, topology.Cluster{Name: parent, Role: topology.Parent, ControlPlanes: nums[0], Workers: nums[1]})
		for k := 1; k <= nums[2]; k++ {
			r.Clusters = append(r.Clusters, topology.Cluster{Name: fmt.Sprintf("%s-app%d", r.Name, k), Role: topology.Child, Parent: parent, Workers: nums[3]})
		}
		topo.Regions = append(topo.Regions, r)
	}
	topo = topo.WithDefaults()
	if err := topo.Validate(); err != nil {
		return topology.Topology{}, fmt.Errorf("the fleet table describes an invalid fleet: %w", err)
	}
	return topo, nil
}
