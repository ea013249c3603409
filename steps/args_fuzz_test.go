package steps

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cucumber/godog"

	"github.com/aftershock-sre/aftershock/infra/topology"
)

// The step-argument parsers take whatever a feature file holds. These fuzz
// targets check that none of them panics, that whatever one accepts is in
// range, and that every refusal says what is wrong. Seeds are in
// testdata/fuzz/<FuzzName>; run one with e.g.
//
//	go test ./steps -run '^$' -fuzz '^FuzzDuration$' -fuzztime 60s

func FuzzDuration(f *testing.F) {
	for _, s := range [][2]string{
		{"10", "seconds"}, {"1", "second"}, {"2", "minutes"}, {"", ""}, {"0", "seconds"},
		{"250", "milliseconds"}, {"-1", "seconds"}, {"9223372036", "seconds"},
		{"153722867280912", "minutes"}, {"9223372036854775807", "minutes"}, {"99999999999999999999", "seconds"},
		{"1e3", "seconds"}, {" 5", "seconds"}, {"+5", "minutes"}, {"5", "hours"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, n, unit string) {
		d, err := duration(n, unit)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(n)) {
				t.Fatalf("duration(%q, %q): error %q does not quote the input", n, unit, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("duration(%q, %q) = %v: negative", n, unit, d)
		}
		if n == "" {
			if d != 0 {
				t.Fatalf("duration(\"\", %q) = %v, want 0", unit, d)
			}
			return
		}
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			t.Fatalf("duration(%q, %q) = %v, but %q is no whole number", n, unit, d, n)
		}
		if v == 0 {
			if d != 0 {
				t.Fatalf("duration(%q, %q) = %v, want 0", n, unit, d)
			}
			return
		}
		// d must be exactly v units of one of the units phrases allow:
		// anything else is an overflow that wrapped around.
		u := d / time.Duration(v)
		if d%time.Duration(v) != 0 || (u != time.Millisecond && u != time.Second && u != time.Minute) {
			t.Fatalf("duration(%q, %q) = %v (%d ns): not %d whole milliseconds, seconds or minutes (overflow?)", n, unit, d, int64(d), v)
		}
	})
}

func FuzzPercent(f *testing.F) {
	for _, s := range []string{"60", "100", "0", "140", "100.5", "-3", "0.0001", "99.99", "NaN", "nan", "Inf", "-Inf", "1e2", "1e-300", "0x1p-2", "", "5%", "1_0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := percent(s)
		if err != nil {
			if !strings.Contains(err.Error(), "is not a share of nodes") {
				t.Fatalf("percent(%q): unclear error %q", s, err)
			}
			return
		}
		if !(v > 0 && v <= 100) {
			t.Fatalf("percent(%q) = %v: want more than 0 and at most 100", s, v)
		}
	})
}

func FuzzCount(f *testing.F) {
	for _, s := range []string{"1", "3", "0", "-1", "", "9223372036854775807", "9223372036854775808", "1.5", "07", "+2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := count(s)
		if err != nil {
			if !strings.Contains(err.Error(), "want at least 1 node") {
				t.Fatalf("count(%q): unclear error %q", s, err)
			}
			return
		}
		if v < 1 {
			t.Fatalf("count(%q) = %d: want at least 1", s, v)
		}
	})
}

// tableOf reads a table the way a feature file lays it out: one row per
// line, cells between '|'.
func tableOf(s string) *godog.Table {
	if s == "" {
		return nil
	}
	var rows [][]string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimPrefix(line, "|")
		line = strings.TrimSuffix(line, "|")
		rows = append(rows, strings.Split(line, "|"))
	}
	return table(rows...)
}

func FuzzGroupTable(f *testing.F) {
	for _, s := range []string{
		"parent control-plane nodes\nparent workers\nchild cluster nodes",
		"all nodes",
		"| parent nodes |\n| child cluster nodes |",
		"parent workers\ndatabase nodes",
		"parent workers | x",
		"parent workers\nparent workers",
		"",
		"\n\n",
		"  all nodes  ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tbl := tableOf(s)
		groups, err := groupTable(tbl)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if len(groups) != len(tbl.Rows) {
			t.Fatalf("groupTable read %d groups from %d rows", len(groups), len(tbl.Rows))
		}
		seen := map[string]bool{}
		for _, g := range groups {
			if _, ok := groupScopes[g.Name]; !ok || seen[g.Name] {
				t.Fatalf("groupTable accepted unknown or repeated group %q in %q", g.Name, s)
			}
			seen[g.Name] = true
		}
	})
}

func FuzzFleetTable(f *testing.F) {
	const header = "region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster\n"
	for _, s := range []string{
		header + "us1 | aws | 1 | 2 | 2 | 4\neu1 | gcp | 1 | 1 | 1 | 3",
		header + "us1 | aws | 1 | 1 | 1 | 1",
		header,
		"region | provider\nus1 | aws",
		header + "us1 | aws | 1",
		header + "us1 | aws | one | 1 | 1 | 1",
		header + "us1 | aws2 | 1 | 1 | 1 | 1",
		header + "us1 | aws | 1 | 0 | 1 | 2",
		header + "us1 | aws | 9223372036854775807 | 1 | 0 | 0",
		header + "us1 | aws | 1 | 1 | 9223372036854775807 | 1",
		header + "us1 | aws | 1 | 1 | 3000 | 0",
		header + "us1 | aws | 1 | 1 | 1 | 4611686018427387904",
		header + "us1 | aws | 2000 | 1 | 0 | 0",
		header + "us1 | aws | 1 | 1 | 1 | 1\nus1 | gcp | 1 | 1 | 1 | 1",
		header + "US-1 | aws | 1 | 1 | 1 | 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		topo, err := fleetTable(tableOf(s), "fuzz.feature")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if err := topo.Validate(); err != nil {
			t.Fatalf("fleetTable accepted a fleet that does not validate: %v", err)
		}
		nodes := 0
		for _, r := range topo.Regions {
			for _, c := range r.Clusters {
				if c.ControlPlanes < 0 || c.Workers < 0 || c.ControlPlanes > topology.MaxNodes || c.Workers > topology.MaxNodes {
					t.Fatalf("cluster %s has %d control planes and %d workers", c.Name, c.ControlPlanes, c.Workers)
				}
				nodes += c.ControlPlanes + c.Workers
			}
		}
		if nodes > topology.MaxNodes || nodes > math.MaxInt32 {
			t.Fatalf("fleetTable accepted %d nodes (at most %d)", nodes, topology.MaxNodes)
		}
		if got := len(topo.Nodes()); got != nodes {
			t.Fatalf("Nodes() lists %d nodes, clusters hold %d", got, nodes)
		}
	})
}
