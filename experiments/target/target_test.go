package target

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// nodesOf turns a topology into the nodes a running fleet would list, with
// fake addresses and namespaces.
func nodesOf(t topology.Topology) []infra.Node {
	var nodes []infra.Node
	for i, n := range t.Nodes() {
		nodes = append(nodes, infra.Node{
			Node:      n,
			Address:   fmt.Sprintf("10.0.%d.%d", i/250, i%250+1),
			NetNSPath: "/run/netns/as-" + n.Name,
		})
	}
	return nodes
}

func preset(t testing.TB, name string) []infra.Node {
	t.Helper()
	topo, err := topology.Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return nodesOf(topo)
}

// sized builds one region "r1" on aws whose clusters have the given sizes:
// the first is a parent with one control plane, the rest are children
// "c1".."cN" (sizes[0] >= 1).
func sized(sizes ...int) []infra.Node {
	r := topology.Region{Name: "r1", Cloud: topology.AWS}
	r.Clusters = append(r.Clusters, topology.Cluster{
		Name: "c0", Role: topology.Parent, ControlPlanes: 1, Workers: sizes[0] - 1,
	})
	for i, n := range sizes[1:] {
		r.Clusters = append(r.Clusters, topology.Cluster{
			Name: fmt.Sprintf("c%d", i+1), Role: topology.Child, Parent: "c0", Workers: n,
		})
	}
	return nodesOf(topology.Topology{Name: "sized", Regions: []topology.Region{r}})
}

// threeRegions is the 48-node preset: per region a parent of 1+3 nodes and
// two children of 6 workers.
func threeRegions(t testing.TB) []infra.Node { return preset(t, "three-regions") }

func mustSelect(t *testing.T, nodes []infra.Node, spec Spec) Selection {
	t.Helper()
	sel, err := Select(nodes, spec)
	if err != nil {
		t.Fatalf("Select(%s): %v", spec, err)
	}
	return sel
}

// perCluster counts the picks of each cluster.
func perCluster(sel Selection) map[string]int {
	got := make(map[string]int)
	for _, p := range sel.Picks {
		got[p.Node.Cluster]++
	}
	return got
}

func names(picks []Pick) []string {
	var out []string
	for _, p := range picks {
		out = append(out, p.Node.Name)
	}
	return out
}

func TestPercentRounding(t *testing.T) {
	tests := []struct {
		percent  float64
		size     int
		selected int
		exact    float64
	}{
		{60, 6, 4, 3.6},
		{60, 4, 2, 2.4},
		{60, 5, 3, 3},
		{50, 5, 3, 2.5}, // half away from zero, not to even
		{50, 3, 2, 1.5},
		{10, 5, 1, 0.5},
		{12.5, 4, 1, 0.5},
		{100, 7, 7, 7},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%g%% of %d", tt.percent, tt.size), func(t *testing.T) {
			sel := mustSelect(t, sized(tt.size), Spec{Amount: Amount{Percent: tt.percent}})
			want := []ClusterShare{{Cluster: "c0", Region: "r1", Candidates: tt.size, Selected: tt.selected, Exact: tt.exact}}
			if !reflect.DeepEqual(sel.Clusters, want) {
				t.Errorf("Clusters = %+v, want %+v", sel.Clusters, want)
			}
			if len(sel.Picks) != tt.selected {
				t.Errorf("%d picks, want %d", len(sel.Picks), tt.selected)
			}
		})
	}
}

// A share that rounds to no node anywhere is an error, not an empty fault.
func TestPercentSelectingNothingIsAnError(t *testing.T) {
	for _, tt := range []struct {
		percent float64
		size    int
	}{{5, 6}, {0.1, 1}} {
		_, err := Select(sized(tt.size), Spec{Amount: Amount{Percent: tt.percent}})
		if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "selects no node") {
			t.Errorf("%g%% of %d: %v, want ErrNoMatch saying it selects no node", tt.percent, tt.size, err)
		}
	}
}

func TestPercentStratified(t *testing.T) {
	tests := []struct {
		name    string
		nodes   []infra.Node
		percent float64
		want    map[string]int // cluster → selected
		exact   map[string]float64
	}{
		{
			name:    "three regions",
			nodes:   threeRegions(t),
			percent: 60,
			want: map[string]int{
				"eu1-parent": 2, "eu1-app1": 4, "eu1-app2": 4,
				"us1-parent": 2, "us1-app1": 4, "us1-app2": 4,
				"us3-parent": 2, "us3-app1": 4, "us3-app2": 4,
			},
			exact: map[string]float64{
				"eu1-parent": 2.4, "eu1-app1": 3.6, "eu1-app2": 3.6,
				"us1-parent": 2.4, "us1-app1": 3.6, "us1-app2": 3.6,
				"us3-parent": 2.4, "us3-app1": 3.6, "us3-app2": 3.6,
			},
		},
		{
			name:    "uneven sizes",
			nodes:   sized(3, 7, 10, 1),
			percent: 60,
			want:    map[string]int{"c0": 2, "c1": 4, "c2": 6, "c3": 1},
			exact:   map[string]float64{"c0": 1.8, "c1": 4.2, "c2": 6, "c3": 0.6},
		},
		{
			name:    "small clusters round to nothing",
			nodes:   sized(3, 7, 10, 1),
			percent: 10,
			want:    map[string]int{"c0": 0, "c1": 1, "c2": 1, "c3": 0},
			exact:   map[string]float64{"c0": 0.3, "c1": 0.7, "c2": 1, "c3": 0.1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel := mustSelect(t, tt.nodes, Spec{Amount: Amount{Percent: tt.percent}, Seed: 1})
			if len(sel.Clusters) != len(tt.want) {
				t.Fatalf("%d clusters reported, want %d: %+v", len(sel.Clusters), len(tt.want), sel.Clusters)
			}
			picked := perCluster(sel)
			for _, c := range sel.Clusters {
				if c.Selected != tt.want[c.Cluster] || picked[c.Cluster] != c.Selected {
					t.Errorf("%s: Selected %d, picked %d, want %d", c.Cluster, c.Selected, picked[c.Cluster], tt.want[c.Cluster])
				}
				if math.Abs(c.Exact-tt.exact[c.Cluster]) > 1e-9 {
					t.Errorf("%s: Exact %g, want %g", c.Cluster, c.Exact, tt.exact[c.Cluster])
				}
			}
			if !slices.IsSortedFunc(sel.Clusters, func(a, b ClusterShare) int { return strings.Compare(a.Cluster, b.Cluster) }) {
				t.Errorf("clusters not sorted by name: %+v", sel.Clusters)
			}
		})
	}
}

func TestCountLargestRemainder(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
		count int
		want  []int // selected per cluster c0, c1, …
	}{
		// quotas 0.71, 1.67, 2.38, 0.24: floors 0+1+2+0, the two nodes left
		// go to c0 (.71) and c1 (.67).
		{"remainders", []int{3, 7, 10, 1}, 5, []int{1, 2, 2, 0}},
		{"tie goes to first name", []int{2, 2}, 1, []int{1, 0}},
		{"three-way tie", []int{4, 4, 4}, 2, []int{1, 1, 0}},
		{"exact quotas", []int{2, 4, 6}, 6, []int{1, 2, 3}},
		{"one node", []int{3, 7, 10, 1}, 1, []int{0, 0, 1, 0}},
		{"every node", []int{3, 7, 10, 1}, 21, []int{3, 7, 10, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel := mustSelect(t, sized(tt.sizes...), Spec{Amount: Amount{Count: tt.count}, Seed: 3})
			var got []int
			total := 0
			for _, c := range sel.Clusters {
				got = append(got, c.Selected)
				total += c.Selected
				if exact := float64(tt.count*c.Candidates) / float64(sum(tt.sizes)); math.Abs(c.Exact-exact) > 1e-9 {
					t.Errorf("%s: Exact %g, want %g", c.Cluster, c.Exact, exact)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("selected per cluster %v, want %v", got, tt.want)
			}
			if total != tt.count || len(sel.Picks) != tt.count {
				t.Errorf("selected %d, picked %d, want %d", total, len(sel.Picks), tt.count)
			}
		})
	}
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func TestCountPerCluster(t *testing.T) {
	sel := mustSelect(t, threeRegions(t), Spec{
		Amount: Amount{Count: 2, PerCluster: true},
		Scope:  Scope{ClusterRole: topology.Child},
	})
	if len(sel.Clusters) != 6 || len(sel.Picks) != 12 {
		t.Fatalf("%d clusters, %d picks; want 6 child clusters, 12 picks", len(sel.Clusters), len(sel.Picks))
	}
	picked := perCluster(sel)
	for _, c := range sel.Clusters {
		if c.Selected != 2 || c.Exact != 2 || picked[c.Cluster] != 2 || c.Candidates != 6 {
			t.Errorf("%+v (picked %d), want 2 of 6", c, picked[c.Cluster])
		}
		if !strings.Contains(c.Cluster, "-app") {
			t.Errorf("cluster %s is not a child", c.Cluster)
		}
	}
	if got, want := sel.Spec.String(), "2 nodes of every child cluster in all regions"; got != want {
		t.Errorf("Spec.String() = %q, want %q", got, want)
	}
}

func TestAll(t *testing.T) {
	sel := mustSelect(t, threeRegions(t), Spec{Amount: Amount{All: true}})
	if len(sel.Picks) != 48 {
		t.Errorf("%d picks, want 48", len(sel.Picks))
	}
	for _, c := range sel.Clusters {
		if c.Selected != c.Candidates || c.Exact != float64(c.Candidates) {
			t.Errorf("%+v, want every candidate", c)
		}
	}
}

func TestScope(t *testing.T) {
	tests := []struct {
		name  string
		scope Scope
		want  int
		match func(n infra.Node) bool
	}{
		{"any", Scope{}, 48, func(infra.Node) bool { return true }},
		{"region", Scope{Region: "us1"}, 16, func(n infra.Node) bool { return n.Region == "us1" }},
		{"cloud", Scope{Cloud: topology.GCP}, 16, func(n infra.Node) bool { return n.Region == "eu1" }},
		{"cluster", Scope{Cluster: "us3-app2"}, 6, func(n infra.Node) bool { return n.Cluster == "us3-app2" }},
		{"cluster role", Scope{ClusterRole: topology.Parent}, 12, func(n infra.Node) bool { return strings.HasSuffix(n.Cluster, "-parent") }},
		{"node role", Scope{NodeRole: topology.ControlPlane}, 3, func(n infra.Node) bool { return strings.HasSuffix(n.Name, "-cp0") }},
		{"worker", Scope{NodeRole: topology.Worker}, 45, func(n infra.Node) bool { return !strings.Contains(n.Name, "-cp") }},
		{
			"every parent control-plane node in us1",
			Scope{Region: "us1", ClusterRole: topology.Parent, NodeRole: topology.ControlPlane},
			1,
			func(n infra.Node) bool { return n.Name == "us1-parent-cp0" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel := mustSelect(t, threeRegions(t), Spec{Amount: Amount{All: true}, Scope: tt.scope})
			if len(sel.Picks) != tt.want {
				t.Errorf("%d picks, want %d", len(sel.Picks), tt.want)
			}
			for _, p := range sel.Picks {
				if !tt.match(p.Node) {
					t.Errorf("picked %s (%s/%s/%s), out of scope", p.Node.Name, p.Node.Region, p.Node.Cluster, p.Node.Role)
				}
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	nodes := threeRegions(t)
	spec := Spec{Amount: Amount{Percent: 60}, Window: 30 * time.Second, Seed: 1}
	a, b := mustSelect(t, nodes, spec), mustSelect(t, nodes, spec)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("same seed, different selections:\n%v\n%v", names(a.Picks), names(b.Picks))
	}

	spec.Seed = 2
	c := mustSelect(t, nodes, spec)
	if slices.Equal(sortedNames(a.Picks), sortedNames(c.Picks)) {
		t.Errorf("seeds 1 and 2 pick the same nodes: %v", sortedNames(a.Picks))
	}
	if reflect.DeepEqual(offsets(a.Picks), offsets(c.Picks)) {
		t.Errorf("seeds 1 and 2 draw the same offsets")
	}
}

// TestPinned pins one selection, so that a change that would stop recorded
// seeds from reproducing past runs fails here.
func TestPinned(t *testing.T) {
	sel := mustSelect(t, preset(t, "two-regions"), Spec{Amount: Amount{Count: 3}, Window: 10 * time.Second, Seed: 2023})
	var got []string
	for _, p := range sel.Picks {
		got = append(got, p.Node.Name+"@"+p.Offset.String())
	}
	want := []string{"eu1-app1-w0@6.223032971s", "eu1-parent-w1@6.350948788s", "eu1-app2-w2@6.432466885s"}
	if !slices.Equal(got, want) {
		t.Errorf("picks = %q, want %q", got, want)
	}
}

func sortedNames(picks []Pick) []string { return slices.Sorted(slices.Values(names(picks))) }

func offsets(picks []Pick) []time.Duration {
	var out []time.Duration
	for _, p := range picks {
		out = append(out, p.Offset)
	}
	return out
}

func TestInputOrderIndependence(t *testing.T) {
	nodes := threeRegions(t)
	reversed := slices.Clone(nodes)
	slices.Reverse(reversed)
	shuffled := slices.Clone(nodes)
	rand.New(rand.NewPCG(9, 9)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	for _, amount := range []Amount{{Percent: 60}, {Count: 7}, {Count: 2, PerCluster: true}} {
		t.Run(amount.String(), func(t *testing.T) {
			spec := Spec{Amount: amount, Window: time.Minute, Seed: 42}
			want := mustSelect(t, nodes, spec)
			for name, in := range map[string][]infra.Node{"reversed": reversed, "shuffled": shuffled} {
				if got := mustSelect(t, in, spec); !reflect.DeepEqual(got, want) {
					t.Errorf("%s input: picks %v, want %v", name, names(got.Picks), names(want.Picks))
				}
			}
		})
	}
}

// TestClusterIndependence checks that a cluster's picks do not depend on the
// rest of the fleet.
func TestClusterIndependence(t *testing.T) {
	nodes := threeRegions(t)
	spec := Spec{Amount: Amount{Percent: 50}, Window: time.Minute, Seed: 5}
	whole := mustSelect(t, nodes, spec)
	var us1 []infra.Node
	for _, n := range nodes {
		if n.Region == "us1" {
			us1 = append(us1, n)
		}
	}
	part := mustSelect(t, us1, spec)
	var want []Pick
	for _, p := range whole.Picks {
		if p.Node.Region == "us1" {
			want = append(want, p)
		}
	}
	if !reflect.DeepEqual(part.Picks, want) {
		t.Errorf("us1 alone picks %v, within the fleet %v", names(part.Picks), names(want))
	}
}

func TestOffsets(t *testing.T) {
	nodes := threeRegions(t)
	for _, window := range []time.Duration{0, time.Nanosecond, 30 * time.Second, time.Hour} {
		t.Run(window.String(), func(t *testing.T) {
			sel := mustSelect(t, nodes, Spec{Amount: Amount{All: true}, Window: window, Seed: 11})
			for _, p := range sel.Picks {
				if p.Offset < 0 || (window > 0 && p.Offset >= window) || (window == 0 && p.Offset != 0) {
					t.Errorf("%s: offset %s outside [0, %s)", p.Node.Name, p.Offset, window)
				}
			}
			sorted := slices.IsSortedFunc(sel.Picks, func(a, b Pick) int {
				if a.Offset != b.Offset {
					return int(a.Offset - b.Offset)
				}
				return strings.Compare(a.Node.Name, b.Node.Name)
			})
			if !sorted {
				t.Errorf("picks not sorted by offset, then name: %v", sel.Picks)
			}
			if window >= time.Second && len(slices.Compact(offsets(sel.Picks))) < len(sel.Picks)/2 {
				t.Errorf("offsets barely spread over %s: %v", window, offsets(sel.Picks))
			}
		})
	}
}

func TestWindowKeepsPicks(t *testing.T) {
	nodes := threeRegions(t)
	at := mustSelect(t, nodes, Spec{Amount: Amount{Percent: 60}, Seed: 4})
	spread := mustSelect(t, nodes, Spec{Amount: Amount{Percent: 60}, Seed: 4, Window: time.Minute})
	if !slices.Equal(sortedNames(at.Picks), sortedNames(spread.Picks)) {
		t.Errorf("window changed the picks: %v vs %v", sortedNames(at.Picks), sortedNames(spread.Picks))
	}
}

func TestLargerShareIsSuperset(t *testing.T) {
	nodes := threeRegions(t)
	small := mustSelect(t, nodes, Spec{Amount: Amount{Percent: 30}, Seed: 8, Window: time.Minute})
	large := mustSelect(t, nodes, Spec{Amount: Amount{Percent: 60}, Seed: 8, Window: time.Minute})
	offsetOf := make(map[string]time.Duration)
	for _, p := range large.Picks {
		offsetOf[p.Node.Name] = p.Offset
	}
	for _, p := range small.Picks {
		if o, ok := offsetOf[p.Node.Name]; !ok || o != p.Offset {
			t.Errorf("%s at %s in 30%% is not in 60%% at the same offset (%s, %v)", p.Node.Name, p.Offset, o, ok)
		}
	}
}

func TestEvents(t *testing.T) {
	sel := mustSelect(t, threeRegions(t), Spec{
		Amount: Amount{Percent: 50},
		Scope:  Scope{Region: "us1", NodeRole: topology.Worker},
		Window: 20 * time.Second,
		Seed:   77,
	})
	at := time.Date(2023, 11, 8, 10, 0, 0, 0, time.UTC)
	events := sel.Events("networkd-restart", at)
	if len(events) != len(sel.Picks) || len(events) == 0 {
		t.Fatalf("%d events for %d picks", len(events), len(sel.Picks))
	}
	for i, e := range events {
		p := sel.Picks[i]
		want := experiments.Event{
			Time:    at,
			Kind:    experiments.KindSelection,
			Name:    "networkd-restart",
			Region:  "us1",
			Cluster: p.Node.Cluster,
			Node:    p.Node.Name,
			Detail: map[string]string{
				"offset": p.Offset.String(),
				"seed":   "77",
				"amount": "50%",
				"scope":  "worker nodes in region us1",
				"window": "20s",
			},
		}
		if !reflect.DeepEqual(e, want) {
			t.Errorf("event %d = %+v, want %+v", i, e, want)
		}
		if d, err := time.ParseDuration(e.Detail["offset"]); err != nil || d != p.Offset {
			t.Errorf("event %d: offset %q does not parse back to %s (%v)", i, e.Detail["offset"], p.Offset, err)
		}
	}
	if got := (Selection{}).Events("x", at); len(got) != 0 {
		t.Errorf("empty selection gives %d events", len(got))
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		name  string
		nodes []infra.Node
		spec  Spec
		want  string
	}{
		{
			"percent",
			preset(t, "tiny"),
			Spec{Amount: Amount{Percent: 60}},
			"60% of nodes in all regions, rounded half away from zero in each cluster: " +
				"2 of 4 nodes (eu1-app1 1/2 from 1.2, eu1-parent 1/2 from 1.2); all start at once, seed 0",
		},
		{
			"count",
			sized(3, 7, 10, 1),
			Spec{Amount: Amount{Count: 5}, Window: 30 * time.Second, Seed: 9},
			"5 nodes in all regions, spread over clusters by largest remainder: " +
				"5 of 21 nodes (c0 1/3 from 0.71, c1 2/7 from 1.67, c2 2/10 from 2.38, c3 0/1 from 0.24); starts within 30s, seed 9",
		},
		{
			"all",
			threeRegions(t),
			Spec{Amount: Amount{All: true}, Scope: Scope{Region: "us1", ClusterRole: topology.Parent, NodeRole: topology.ControlPlane}},
			"all control-plane nodes of parent clusters in region us1: 1 of 1 node (us1-parent 1/1); all start at once, seed 0",
		},
		{
			"per cluster",
			threeRegions(t),
			Spec{Amount: Amount{Count: 1, PerCluster: true}, Scope: Scope{Cloud: topology.GCP, ClusterRole: topology.Child}},
			"1 node of every child cluster in all gcp regions: 2 of 12 nodes (eu1-app1 1/6, eu1-app2 1/6); all start at once, seed 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustSelect(t, tt.nodes, tt.spec).String(); got != tt.want {
				t.Errorf("String() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestSpecString(t *testing.T) {
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{Amount: Amount{Percent: 12.5}, Scope: Scope{Cluster: "us1-app1"}}, "12.5% of nodes of cluster us1-app1"},
		{Spec{Amount: Amount{Count: 3}, Scope: Scope{Region: "eu1", Cloud: topology.GCP}}, "3 nodes in region eu1 (gcp)"},
		{Spec{Amount: Amount{Count: 2, PerCluster: true}}, "2 nodes of every cluster in all regions"},
		{Spec{Amount: Amount{All: true}, Scope: Scope{NodeRole: topology.Worker, ClusterRole: topology.Child}}, "all worker nodes of child clusters in all regions"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.spec.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	fleet := threeRegions(t)
	dup := append(slices.Clone(fleet), fleet[3])
	tests := []struct {
		name   string
		nodes  []infra.Node
		spec   Spec
		is     error // nil: no sentinel
		want   string
		within string // the error contains this instead of equalling want
	}{
		{"percent over 100", fleet, Spec{Amount: Amount{Percent: 140}}, nil,
			"140% is not a percentage of nodes (want more than 0% and at most 100%)", ""},
		{"negative percent", fleet, Spec{Amount: Amount{Percent: -5}}, nil,
			"-5% is not a percentage of nodes (want more than 0% and at most 100%)", ""},
		{"NaN percent", fleet, Spec{Amount: Amount{Percent: math.NaN()}}, nil,
			"NaN% is not a percentage of nodes (want more than 0% and at most 100%)", ""},
		{"infinite percent", fleet, Spec{Amount: Amount{Percent: math.Inf(1)}}, nil,
			"+Inf% is not a percentage of nodes (want more than 0% and at most 100%)", ""},
		{"negative count", fleet, Spec{Amount: Amount{Count: -2}}, nil,
			"-2 is not a count of nodes (want at least 1)", ""},
		{"negative count per cluster", fleet, Spec{Amount: Amount{Count: -1, PerCluster: true}}, nil,
			"-1 is not a count of nodes (want at least 1)", ""},
		{"percent and count", fleet, Spec{Amount: Amount{Percent: 60, Count: 3}}, nil,
			`the amount of nodes "60% and 3" sets more than one of a percentage, a count and all (want exactly one)`, ""},
		{"count and all", fleet, Spec{Amount: Amount{Count: 3, All: true}}, nil,
			`the amount of nodes "3 and all" sets more than one of a percentage, a count and all (want exactly one)`, ""},
		{"no amount", fleet, Spec{}, nil,
			"the amount of nodes is not set (want exactly one of a percentage, a count or all)", ""},
		{"per cluster alone", fleet, Spec{Amount: Amount{PerCluster: true}}, nil,
			"the amount of nodes is not set (want exactly one of a percentage, a count or all)", ""},
		{"negative window", fleet, Spec{Amount: Amount{All: true}, Window: -5 * time.Second}, nil,
			"window -5s is negative (want 0 to start every fault at once, or a positive spread)", ""},
		{"unknown region", fleet, Spec{Amount: Amount{All: true}, Scope: Scope{Region: "eu9"}}, ErrNoMatch,
			`no node matches region "eu9" (known regions: eu1, us1, us3)`, ""},
		{"unknown cloud and cluster", fleet, Spec{Amount: Amount{All: true}, Scope: Scope{Cloud: "ibm", Cluster: "x"}}, ErrNoMatch,
			`no node matches cloud "ibm" (known clouds: aws, azure, gcp), nor cluster "x" (known clusters: ` +
				`eu1-app1, eu1-app2, eu1-parent, us1-app1, us1-app2, us1-parent, us3-app1, us3-app2, us3-parent)`, ""},
		{"unknown role", fleet, Spec{Amount: Amount{All: true}, Scope: Scope{NodeRole: "etcd"}}, ErrNoMatch,
			`no node matches node role "etcd" (known node roles: control-plane, worker)`, ""},
		{"cluster outside region", fleet, Spec{Amount: Amount{All: true}, Scope: Scope{Region: "us1", Cluster: "eu1-app1"}}, ErrNoMatch,
			`no node matches region "us1" and cluster "eu1-app1" together (each matches some node, but no node matches them all)`, ""},
		{"control plane of child", fleet, Spec{Amount: Amount{Count: 1}, Scope: Scope{ClusterRole: topology.Child, NodeRole: topology.ControlPlane}}, ErrNoMatch,
			`no node matches cluster role "child" and node role "control-plane" together (each matches some node, but no node matches them all)`, ""},
		{"empty fleet", nil, Spec{Amount: Amount{Percent: 60}}, ErrNoMatch,
			"no node matches nodes in all regions: the fleet has no nodes", ""},
		{"count over candidates", fleet, Spec{Amount: Amount{Count: 17}, Scope: Scope{Region: "us1"}}, ErrTooFew,
			"not enough nodes: asked for 17 nodes in region us1, but there are only 16", ""},
		{"per cluster over cluster size", fleet, Spec{Amount: Amount{Count: 5, PerCluster: true}, Scope: Scope{Region: "eu1"}}, ErrTooFew,
			"not enough nodes: asked for 5 nodes of every cluster in region eu1, but cluster eu1-parent has only 4", ""},
		{"duplicate node", dup, Spec{Amount: Amount{All: true}}, nil,
			"", fmt.Sprintf("node %q is listed twice", fleet[3].Name)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := Select(tt.nodes, tt.spec)
			if err == nil {
				t.Fatalf("no error; selected %s", sel)
			}
			if tt.want != "" && err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
			if tt.within != "" && !strings.Contains(err.Error(), tt.within) {
				t.Errorf("error %q does not contain %q", err, tt.within)
			}
			for _, sentinel := range []error{ErrNoMatch, ErrTooFew} {
				if got, want := errors.Is(err, sentinel), sentinel == tt.is; got != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", sentinel, got, want)
				}
			}
			if !reflect.DeepEqual(sel, Selection{}) {
				t.Errorf("failed Select returned %+v", sel)
			}
		})
	}
}

func FuzzSelect(f *testing.F) {
	f.Add(60.0, 0, false, false, uint64(1), int64(30e9), uint8(0))
	f.Add(0.0, 7, false, false, uint64(2), int64(0), uint8(1))
	f.Add(0.0, 2, false, true, uint64(3), int64(1), uint8(4))
	f.Add(0.0, 0, true, false, uint64(4), int64(-1), uint8(7))
	f.Add(140.0, 0, false, false, uint64(5), int64(5e9), uint8(2))
	f.Add(33.3, 1, true, true, uint64(6), int64(1e9), uint8(255))
	f.Add(math.SmallestNonzeroFloat64, 0, false, false, uint64(0), int64(math.MaxInt64), uint8(3))
	nodes := threeRegions(f)
	scopes := []Scope{
		{},
		{Region: "us1"},
		{Cloud: topology.GCP},
		{Cluster: "us3-app2"},
		{ClusterRole: topology.Parent},
		{NodeRole: topology.ControlPlane},
		{Region: "us1", Cluster: "eu1-app1"},
		{Region: "eu9"},
	}
	f.Fuzz(func(t *testing.T, percent float64, count int, all, per bool, seed uint64, window int64, scope uint8) {
		spec := Spec{
			Amount: Amount{Percent: percent, Count: count, All: all, PerCluster: per},
			Scope:  scopes[int(scope)%len(scopes)],
			Window: time.Duration(window),
			Seed:   seed,
		}
		sel, err := Select(nodes, spec)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		again, _ := Select(nodes, spec)
		if !reflect.DeepEqual(sel, again) {
			t.Fatal("same spec, different selections")
		}
		total, candidates := 0, 0
		seen := make(map[string]bool)
		for _, c := range sel.Clusters {
			if c.Selected < 0 || c.Selected > c.Candidates || c.Candidates == 0 {
				t.Errorf("%+v: selected outside [0, candidates]", c)
			}
			if spec.Amount.Percent != 0 && float64(c.Selected) != math.Round(c.Exact) {
				t.Errorf("%+v: selected is not the rounded share", c)
			}
			total += c.Selected
			candidates += c.Candidates
		}
		if total != len(sel.Picks) || total > candidates {
			t.Errorf("%d selected, %d picks, %d candidates", total, len(sel.Picks), candidates)
		}
		if spec.Amount.Count > 0 && !spec.Amount.PerCluster && total != spec.Amount.Count {
			t.Errorf("%d selected, want %d", total, spec.Amount.Count)
		}
		for i, p := range sel.Picks {
			if seen[p.Node.Name] {
				t.Errorf("%s picked twice", p.Node.Name)
			}
			seen[p.Node.Name] = true
			if !spec.Scope.Matches(p.Node.Node) {
				t.Errorf("%s is out of scope %s", p.Node.Name, spec.Scope)
			}
			if p.Offset < 0 || (spec.Window == 0 && p.Offset != 0) || (spec.Window > 0 && p.Offset >= spec.Window) {
				t.Errorf("%s: offset %s outside [0, %s)", p.Node.Name, p.Offset, spec.Window)
			}
			if i > 0 && sel.Picks[i-1].Offset > p.Offset {
				t.Errorf("picks not sorted by offset at %d", i)
			}
		}
		if s := sel.String(); s == "" {
			t.Error("empty String()")
		}
		if got := len(sel.Events("f", time.Time{})); got != len(sel.Picks) {
			t.Errorf("%d events for %d picks", got, len(sel.Picks))
		}
	})
}
