package target

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// Sentinel errors of Select, for use with errors.Is. The returned errors
// wrap them and say which values were at fault.
var (
	// ErrNoMatch means the scope matches no node of the fleet.
	ErrNoMatch = errors.New("no node matches")
	// ErrTooFew means the scope matches fewer nodes than the amount asks for.
	ErrTooFew = errors.New("not enough nodes")
)

// Scope narrows the candidate nodes. Zero fields mean "any"; set fields must
// all match.
type Scope struct {
	Region      string               // "us1"
	Cloud       topology.Cloud       // "aws"
	Cluster     string               // a cluster name, "us1-app1"
	ClusterRole topology.ClusterRole // parent or child
	NodeRole    topology.NodeRole    // control-plane or worker
}

// Amount is how many of the candidate nodes to select: exactly one of
// Percent, Count or All.
type Amount struct {
	// Percent selects round(Percent/100 × n) of the n candidates of every
	// cluster, rounding half away from zero (3.6 → 4, 2.5 → 3, 2.4 → 2).
	// It must be more than 0 and at most 100.
	Percent float64
	// Count selects that many nodes (at least 1): fleet-wide unless
	// PerCluster is set.
	Count int
	// All selects every candidate.
	All bool
	// PerCluster applies Count to every cluster that has candidates ("2
	// nodes of every child cluster"). Without it, Count is a fleet-wide total
	// spread over the clusters in proportion to their candidates by the
	// largest-remainder method. Percent and All are per cluster by nature, so
	// PerCluster changes nothing for them.
	PerCluster bool
}

// Spec is a targeting request.
type Spec struct {
	Amount Amount
	Scope  Scope
	// Window spreads the fault starts: each selected node gets an offset
	// drawn uniformly from [0, Window). Zero starts every fault at once.
	Window time.Duration
	// Seed makes the selection reproducible: the same fleet, Spec and Seed
	// always give the same picks and offsets.
	Seed uint64
}

// Pick is one selected node. Its fault starts at T + Offset, where T is the
// time the targeting step fires.
type Pick struct {
	Node   infra.Node
	Offset time.Duration
}

// ClusterShare reports how one cluster's candidates were counted.
type ClusterShare struct {
	Cluster    string
	Region     string
	Candidates int // nodes of the cluster in scope
	Selected   int // nodes picked
	// Exact is the unrounded share: Percent/100 × Candidates for a percent,
	// the proportional quota for a fleet-wide count, else Selected.
	Exact float64
}

// Selection is the outcome of Select.
type Selection struct {
	Spec Spec
	// Picks are sorted by Offset, then node name.
	Picks []Pick
	// Clusters has one entry per cluster with candidates, sorted by name,
	// including those where nothing was selected.
	Clusters []ClusterShare
}

// Select chooses nodes according to spec.
//
// Selection is stratified: the amount is worked out in every cluster that has
// candidates, and which candidates of a cluster are picked is random but
// reproducible. Each cluster draws from its own math/rand/v2 PCG generator
// seeded from spec.Seed and the cluster's name, over its candidates sorted by
// name, so the outcome depends neither on the order of nodes nor on the rest
// of the fleet. For a given seed, a larger share of a cluster picks a
// superset of the nodes a smaller one picks, with the same offsets, and the
// window changes the offsets but not the picks.
//
// Select fails with an error wrapping ErrNoMatch if the scope matches no node,
// or ErrTooFew if a count asks for more nodes than the scope holds; an invalid
// Spec or a node listed twice is a plain error naming the offending value.
func Select(nodes []infra.Node, spec Spec) (Selection, error) {
	if err := spec.validate(); err != nil {
		return Selection{}, err
	}
	groups, err := candidates(nodes, spec.Scope)
	if err != nil {
		return Selection{}, err
	}
	shares, err := spec.Amount.shares(groups, spec.Scope)
	if err != nil {
		return Selection{}, err
	}
	sel := Selection{Spec: spec, Clusters: shares}
	for i, g := range groups {
		sel.Picks = append(sel.Picks, g.pick(shares[i].Selected, spec.Seed, spec.Window)...)
	}
	if len(sel.Picks) == 0 {
		// A share that rounds to nothing everywhere would let a scenario
		// pass without hitting anything.
		return Selection{}, fmt.Errorf("%w: %s selects no node (%d candidates; shares are rounded per cluster)",
			ErrNoMatch, spec, total(shares))
	}
	slices.SortFunc(sel.Picks, func(a, b Pick) int {
		return cmp.Or(cmp.Compare(a.Offset, b.Offset), strings.Compare(a.Node.Name, b.Node.Name))
	})
	return sel, nil
}

func total(shares []ClusterShare) int {
	n := 0
	for _, s := range shares {
		n += s.Candidates
	}
	return n
}

// Events returns one experiments.KindSelection event per pick, in pick order,
// stamped at: Name is fault, Node, Cluster and Region say where, and Detail
// holds "offset",
// "seed", "amount", "scope" and "window".
func (s Selection) Events(fault string, at time.Time) []experiments.Event {
	events := make([]experiments.Event, 0, len(s.Picks))
	for _, p := range s.Picks {
		offset := p.Offset.String()
		events = append(events, experiments.Event{
			Time:    at,
			Kind:    experiments.KindSelection,
			Name:    fault,
			Region:  p.Node.Region,
			Cluster: p.Node.Cluster,
			Node:    p.Node.Name,
			Detail: map[string]string{
				"offset": offset,
				"seed":   strconv.FormatUint(s.Spec.Seed, 10),
				"amount": s.Spec.Amount.String(),
				"scope":  s.Spec.Scope.String(),
				"window": s.Spec.Window.String(),
			},
		})
	}
	return events
}

// String summarises the selection for people, e.g. "60% of nodes in all
// regions, rounded half away from zero in each cluster: 30 of 48 nodes
// (eu1-app1 4/6 from 3.6, eu1-parent 2/4 from 2.4, …); starts within 30s,
// seed 7". Each cluster shows selected/candidates, and the unrounded share
// where it differs.
func (s Selection) String() string {
	var b strings.Builder
	b.WriteString(s.Spec.String())
	switch a := s.Spec.Amount; {
	case a.Percent != 0:
		b.WriteString(", rounded half away from zero in each cluster")
	case a.Count != 0 && !a.PerCluster:
		b.WriteString(", spread over clusters by largest remainder")
	}
	candidates := 0
	for _, c := range s.Clusters {
		candidates += c.Candidates
	}
	fmt.Fprintf(&b, ": %d of %d %s (", len(s.Picks), candidates, plural(candidates, "node", "nodes"))
	for i, c := range s.Clusters {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d/%d", c.Cluster, c.Selected, c.Candidates)
		if c.Exact != float64(c.Selected) {
			b.WriteString(" from " + formatFloat(math.Round(c.Exact*100)/100))
		}
	}
	b.WriteString(")")
	if s.Spec.Window > 0 {
		fmt.Fprintf(&b, "; starts within %s", s.Spec.Window)
	} else {
		b.WriteString("; all start at once")
	}
	fmt.Fprintf(&b, ", seed %d", s.Spec.Seed)
	return b.String()
}

// String reads like a scenario phrase: "60% of nodes in all regions", "all
// control-plane nodes of parent clusters in region us1", "2 nodes of every
// child cluster in all regions".
func (s Spec) String() string {
	a := s.Amount
	switch {
	case a.All:
		return "all " + s.Scope.phrase(true, false)
	case a.Percent != 0:
		return a.String() + " of " + s.Scope.phrase(true, false)
	default:
		return strconv.Itoa(a.Count) + " " + s.Scope.phrase(a.Count != 1, a.PerCluster)
	}
}

// String is the amount alone: "60%", "5", "2 per cluster" or "all".
func (a Amount) String() string {
	var parts []string
	if a.Percent != 0 {
		parts = append(parts, formatFloat(a.Percent)+"%")
	}
	if a.Count != 0 {
		c := strconv.Itoa(a.Count)
		if a.PerCluster {
			c += " per cluster"
		}
		parts = append(parts, c)
	}
	if a.All {
		parts = append(parts, "all")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " and ")
}

// String describes the nodes in scope: "nodes in all regions", "worker nodes
// of child clusters in all aws regions", "nodes of cluster us1-app1".
func (s Scope) String() string { return s.phrase(true, false) }

func (s Scope) phrase(many, perCluster bool) string {
	var b strings.Builder
	if s.NodeRole != "" {
		b.WriteString(string(s.NodeRole) + " ")
	}
	if many {
		b.WriteString("nodes")
	} else {
		b.WriteString("node")
	}
	role := ""
	if s.ClusterRole != "" {
		role = string(s.ClusterRole) + " "
	}
	switch {
	case s.Cluster != "":
		fmt.Fprintf(&b, " of %scluster %s", role, s.Cluster)
	case perCluster:
		fmt.Fprintf(&b, " of every %scluster", role)
	case role != "":
		fmt.Fprintf(&b, " of %sclusters", role)
	}
	switch {
	case s.Region != "" && s.Cloud != "":
		fmt.Fprintf(&b, " in region %s (%s)", s.Region, s.Cloud)
	case s.Region != "":
		fmt.Fprintf(&b, " in region %s", s.Region)
	case s.Cloud != "":
		fmt.Fprintf(&b, " in all %s regions", s.Cloud)
	case s.Cluster == "":
		b.WriteString(" in all regions")
	}
	return b.String()
}

func (s Spec) validate() error {
	a := s.Amount
	set := 0
	for _, isSet := range []bool{a.Percent != 0, a.Count != 0, a.All} {
		if isSet {
			set++
		}
	}
	switch {
	case set == 0:
		return errors.New("the amount of nodes is not set (want exactly one of a percentage, a count or all)")
	case set > 1:
		return fmt.Errorf("the amount of nodes %q sets more than one of a percentage, a count and all (want exactly one)", a)
	case a.Percent != 0 && !(a.Percent > 0 && a.Percent <= 100): // also rejects NaN
		return fmt.Errorf("%s%% is not a percentage of nodes (want more than 0%% and at most 100%%)", formatFloat(a.Percent))
	case a.Count < 0:
		return fmt.Errorf("%d is not a count of nodes (want at least 1)", a.Count)
	case s.Window < 0:
		return fmt.Errorf("window %s is negative (want 0 to start every fault at once, or a positive spread)", s.Window)
	}
	return nil
}

// group is the candidates of one cluster, sorted by name.
type group struct {
	cluster, region string
	nodes           []infra.Node
}

// candidates returns the nodes in scope, grouped by cluster and sorted.
func candidates(nodes []infra.Node, s Scope) ([]group, error) {
	seen := make(map[string]bool, len(nodes))
	index := make(map[[2]string]int)
	var groups []group
	for _, n := range nodes {
		if seen[n.Name] {
			return nil, fmt.Errorf("node %q is listed twice in the fleet", n.Name)
		}
		seen[n.Name] = true
		if !s.Matches(n.Node) {
			continue
		}
		key := [2]string{n.Cluster, n.Region}
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, group{cluster: n.Cluster, region: n.Region})
		}
		groups[i].nodes = append(groups[i].nodes, n)
	}
	if len(groups) == 0 {
		return nil, noMatch(nodes, s)
	}
	slices.SortFunc(groups, func(a, b group) int {
		return cmp.Or(strings.Compare(a.cluster, b.cluster), strings.Compare(a.region, b.region))
	})
	for _, g := range groups {
		slices.SortFunc(g.nodes, func(a, b infra.Node) int { return strings.Compare(a.Name, b.Name) })
	}
	return groups, nil
}

// Matches reports whether n is in the scope.
func (s Scope) Matches(n topology.Node) bool {
	return (s.Region == "" || n.Region == s.Region) &&
		(s.Cloud == "" || n.Cloud == s.Cloud) &&
		(s.Cluster == "" || n.Cluster == s.Cluster) &&
		(s.ClusterRole == "" || n.ClusterRole == s.ClusterRole) &&
		(s.NodeRole == "" || n.Role == s.NodeRole)
}

// scopeFields lists a scope's fields: name, plural, value in s, value of n.
func scopeFields(s Scope, n infra.Node) [][4]string {
	return [][4]string{
		{"region", "regions", s.Region, n.Region},
		{"cloud", "clouds", string(s.Cloud), string(n.Cloud)},
		{"cluster", "clusters", s.Cluster, n.Cluster},
		{"cluster role", "cluster roles", string(s.ClusterRole), string(n.ClusterRole)},
		{"node role", "node roles", string(s.NodeRole), string(n.Role)},
	}
}

// noMatch explains why no node matches s: the fields whose value no node
// has, with the values the fleet does have, or else the combination.
func noMatch(nodes []infra.Node, s Scope) error {
	if len(nodes) == 0 {
		return fmt.Errorf("%w %s: the fleet has no nodes", ErrNoMatch, s)
	}
	fields := scopeFields(s, infra.Node{})
	known := make([]map[string]bool, len(fields))
	for i := range known {
		known[i] = make(map[string]bool)
	}
	for _, n := range nodes {
		for i, f := range scopeFields(s, n) {
			known[i][f[3]] = true
		}
	}
	var unknown, set []string
	for i, f := range fields {
		if f[2] == "" {
			continue
		}
		set = append(set, fmt.Sprintf("%s %q", f[0], f[2]))
		if !known[i][f[2]] {
			values := make([]string, 0, len(known[i]))
			for v := range known[i] {
				values = append(values, v)
			}
			slices.Sort(values)
			unknown = append(unknown, fmt.Sprintf("%s %q (known %s: %s)", f[0], f[2], f[1], strings.Join(values, ", ")))
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%w %s", ErrNoMatch, strings.Join(unknown, ", nor "))
	}
	return fmt.Errorf("%w %s together (each matches some node, but no node matches them all)",
		ErrNoMatch, strings.Join(set, " and "))
}

// shares works out how many nodes each group gives.
func (a Amount) shares(groups []group, s Scope) ([]ClusterShare, error) {
	shares := make([]ClusterShare, len(groups))
	total := 0
	for i, g := range groups {
		shares[i] = ClusterShare{Cluster: g.cluster, Region: g.region, Candidates: len(g.nodes)}
		total += len(g.nodes)
	}
	switch {
	case a.All:
		for i := range shares {
			shares[i].Selected = shares[i].Candidates
		}
	case a.Percent != 0:
		for i := range shares {
			// p×n/100 rather than p/100×n: exact for whole percents, so
			// halves such as 50% of 5 really are 2.5 and round up.
			exact := a.Percent * float64(shares[i].Candidates) / 100
			shares[i].Exact = exact
			shares[i].Selected = int(math.Round(exact)) // half away from zero
		}
		return shares, nil
	case a.PerCluster:
		var short []string
		for i := range shares {
			if shares[i].Candidates < a.Count {
				short = append(short, fmt.Sprintf("cluster %s has only %d", shares[i].Cluster, shares[i].Candidates))
			}
			shares[i].Selected = a.Count
		}
		if len(short) > 0 {
			return nil, fmt.Errorf("%w: asked for %d %s, but %s", ErrTooFew, a.Count,
				s.phrase(a.Count != 1, true), strings.Join(short, ", "))
		}
	default:
		if a.Count > total {
			return nil, fmt.Errorf("%w: asked for %d %s, but there are only %d", ErrTooFew, a.Count, s, total)
		}
		largestRemainder(shares, a.Count, total)
		return shares, nil
	}
	for i := range shares {
		shares[i].Exact = float64(shares[i].Selected)
	}
	return shares, nil
}

// largestRemainder spreads count over shares in proportion to their
// candidates: each gets the floor of its quota count×n/total, and the nodes
// left go one each to the largest remainders, ties to the first cluster by
// name. Integer arithmetic keeps the comparison exact.
func largestRemainder(shares []ClusterShare, count, total int) {
	left := count
	rems := make([]int, len(shares))
	for i := range shares {
		q := count * shares[i].Candidates
		shares[i].Exact = float64(q) / float64(total)
		shares[i].Selected = q / total
		rems[i] = q % total
		left -= shares[i].Selected
	}
	order := make([]int, len(shares))
	for i := range order {
		order[i] = i
	}
	// shares are sorted by cluster name, so a stable sort breaks ties by name.
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rems[b], rems[a]) })
	for _, i := range order[:left] {
		shares[i].Selected++
	}
}

// Generator streams: picks and offsets draw from separate generators so that
// the number of picks does not shift the offsets, nor the window the picks.
const (
	pickStream   = 0x7069636b // "pick"
	offsetStream = 0x6f666673 // "offs"
)

// pick chooses k of g's nodes by a partial Fisher–Yates shuffle and gives each
// an offset in [0, window).
func (g group) pick(k int, seed uint64, window time.Duration) []Pick {
	if k == 0 {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte(g.region + "/" + g.cluster))
	key := h.Sum64()
	picker := rand.New(rand.NewPCG(seed, key^pickStream))
	offsets := rand.New(rand.NewPCG(seed, key^offsetStream))

	nodes := slices.Clone(g.nodes)
	picks := make([]Pick, k)
	for i := range k {
		j := i + picker.IntN(len(nodes)-i)
		nodes[i], nodes[j] = nodes[j], nodes[i]
		picks[i].Node = nodes[i]
		if window > 0 {
			picks[i].Offset = time.Duration(offsets.Int64N(int64(window)))
		}
	}
	return picks
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
