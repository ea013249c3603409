package steps

import (
	"strings"
	"testing"
	"time"

	"github.com/cucumber/godog"
	messages "github.com/cucumber/messages/go/v34"
)

func table(rows ...[]string) *godog.Table {
	t := &godog.Table{}
	for _, r := range rows {
		row := &messages.PickleTableRow{}
		for _, c := range r {
			row.Cells = append(row.Cells, &messages.PickleTableCell{Value: c})
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func TestDuration(t *testing.T) {
	tests := []struct {
		n, unit string
		want    time.Duration
	}{
		{"10", "seconds", 10 * time.Second},
		{"1", "second", time.Second},
		{"2", "minutes", 2 * time.Minute},
		{"", "", 0},
	}
	for _, tt := range tests {
		got, err := duration(tt.n, tt.unit)
		if err != nil || got != tt.want {
			t.Errorf("duration(%q, %q) = %v, %v; want %v", tt.n, tt.unit, got, err, tt.want)
		}
	}
}

func TestPercentAndCount(t *testing.T) {
	for _, bad := range []string{"0", "140", "100.5", "-3"} {
		if _, err := percent(bad); err == nil || !strings.Contains(err.Error(), "is not a share of nodes") {
			t.Errorf("percent(%q) = %v, want a clear error", bad, err)
		}
	}
	if p, err := percent("60"); err != nil || p != 60 {
		t.Errorf("percent(60) = %v, %v", p, err)
	}
	if _, err := count("0"); err == nil || !strings.Contains(err.Error(), "at least 1 node") {
		t.Errorf("count(0) = %v", err)
	}
}

func TestGroupTable(t *testing.T) {
	groups, err := groupTable(table([]string{"parent control-plane nodes"}, []string{"parent workers"}, []string{"child cluster nodes"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 3 || groups[2].Name != "child cluster nodes" || groups[2].Scope.ClusterRole != "child" {
		t.Errorf("groups = %+v", groups)
	}
	bad := []struct {
		name string
		t    *godog.Table
		want string
	}{
		{"no table", nil, "needs a table of groups"},
		{"unknown group", table([]string{"parent workers"}, []string{"database nodes"}), `row 2: unknown group "database nodes"`},
		{"two cells", table([]string{"parent workers", "x"}), "row 1 has 2 cells"},
		{"twice", table([]string{"parent workers"}, []string{"parent workers"}), "listed twice"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := groupTable(tt.t); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("groupTable = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFleetTable(t *testing.T) {
	header := []string{"region", "cloud", "parent control-plane nodes", "parent workers", "child clusters", "nodes per child cluster"}
	topo, err := fleetTable(table(header, []string{"us1", "aws", "1", "2", "2", "4"}, []string{"eu1", "gcp", "1", "1", "1", "3"}), "f.feature")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(topo.Nodes()); got != 3+8+2+3 {
		t.Errorf("%d nodes, want 16", got)
	}
	if c := topo.Regions[0].Clusters[2]; c.Name != "us1-app2" || c.Parent != "us1-parent" || c.Workers != 4 {
		t.Errorf("second child of us1 = %+v", c)
	}
	bad := []struct {
		name string
		rows [][]string
		want string
	}{
		{"header only", [][]string{header}, "needs a header row"},
		{"wrong column", [][]string{{"region", "provider", "a", "b", "c", "d"}, {"us1", "aws", "1", "1", "1", "1"}}, `column 2 is "provider"`},
		{"short row", [][]string{header, {"us1", "aws", "1"}}, "row 1 has 3 cells"},
		{"not a number", [][]string{header, {"us1", "aws", "one", "1", "1", "1"}}, `parent control-plane nodes is "one"`},
		{"unknown cloud", [][]string{header, {"us1", "aws2", "1", "1", "1", "1"}}, `unknown cloud "aws2"`},
		{"zero nodes", [][]string{header, {"us1", "aws", "1", "1", "1", "0"}}, "has no nodes"},
		{"children without workers to host them", [][]string{header, {"us1", "aws", "1", "0", "1", "2"}}, "hosts the control planes"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := fleetTable(table(tt.rows...), "f.feature"); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("fleetTable = %v, want %q", err, tt.want)
			}
		})
	}
}
