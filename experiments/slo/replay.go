package slo

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

// sample is one status report about one subject: a node's readiness or a
// cluster's control-plane reachability.
type sample struct {
	at      time.Time
	subject string
	status  string
}

// readiness returns the KindNodeReady events that report Ready or NotReady
// for a named node, sorted by time; ties keep the order of events.
func readiness(events []experiments.Event) []sample {
	return samples(events, experiments.KindNodeReady, experiments.Ready, experiments.NotReady,
		func(e experiments.Event) string { return e.Node })
}

// reachability returns the KindControlPlane events that report reachable or
// unreachable for a named cluster, sorted by time; ties keep the order of
// events.
func reachability(events []experiments.Event) []sample {
	return samples(events, experiments.KindControlPlane, experiments.Reachable, experiments.Unreachable,
		func(e experiments.Event) string { return e.Cluster })
}

func samples(events []experiments.Event, kind experiments.Kind, up, down string, subject func(experiments.Event) string) []sample {
	var out []sample
	for _, e := range events {
		if e.Kind != kind || (e.Status != up && e.Status != down) || subject(e) == "" {
			continue
		}
		out = append(out, sample{at: e.Time, subject: subject(e), status: e.Status})
	}
	slices.SortStableFunc(out, func(a, b sample) int { return a.at.Compare(b.at) })
	return out
}

// seen is the first instant of a window at which a subject had a status, and
// since when it had it (which may be before the window).
type seen struct {
	at, since time.Time
}

// replay is the state of a set of subjects as samples are applied in order.
type replay struct {
	tracked map[string]bool
	// status is each tracked subject's latest status; absent means unknown.
	status map[string]string
	// since is when each subject's current status began: the first sample of
	// its latest run of equal statuses.
	since map[string]time.Time
	// count is how many tracked subjects have each status.
	count map[string]int
	// first records, per status, the first instant in the window at which
	// each subject was observed with that status.
	first   map[string]map[string]seen
	changed []string
}

func (r *replay) apply(s sample) {
	if !r.tracked[s.subject] {
		return
	}
	old, known := r.status[s.subject]
	if known && old == s.status {
		return
	}
	if known {
		r.count[old]--
	}
	r.count[s.status]++
	r.status[s.subject] = s.status
	r.since[s.subject] = s.at
	r.changed = append(r.changed, s.subject)
}

// mark records the first instant at for every subject whose status changed
// since the last mark.
func (r *replay) mark(at time.Time) {
	for _, sub := range r.changed {
		st := r.status[sub]
		if r.first[st] == nil {
			r.first[st] = map[string]seen{}
		}
		if _, ok := r.first[st][sub]; !ok {
			r.first[st][sub] = seen{at: at, since: r.since[sub]}
		}
	}
	r.changed = r.changed[:0]
}

// walk replays the samples of the tracked subjects over the window
// [from, to]. It calls visit with the state at from (every sample at or
// before from applied), then once after each distinct sample time in
// (from, to], with every sample at that time applied. Samples sharing a time
// are applied together, so a status that lasts zero time is never visited.
// visit returns false to stop early. The returned replay holds the state at
// the last instant visited: at to unless visit stopped.
func walk(ss []sample, tracked map[string]bool, from, to time.Time, visit func(at time.Time, r *replay) bool) *replay {
	r := &replay{
		tracked: tracked,
		status:  map[string]string{},
		since:   map[string]time.Time{},
		count:   map[string]int{},
		first:   map[string]map[string]seen{},
	}
	i := 0
	for ; i < len(ss) && !ss[i].at.After(from); i++ {
		r.apply(ss[i])
	}
	r.mark(from)
	if !visit(from, r) {
		return r
	}
	for i < len(ss) && !ss[i].at.After(to) {
		at := ss[i].at
		for ; i < len(ss) && ss[i].at.Equal(at); i++ {
			r.apply(ss[i])
		}
		r.mark(at)
		if !visit(at, r) {
			break
		}
	}
	return r
}

// firstSeen returns the subjects observed with status in the window, ordered
// by the instant they were first observed with it, then by name.
func (r *replay) firstSeen(status string) []string {
	subs := make([]string, 0, len(r.first[status]))
	for s := range r.first[status] {
		subs = append(subs, s)
	}
	sort.Slice(subs, func(i, j int) bool {
		a, b := r.first[status][subs[i]], r.first[status][subs[j]]
		if c := a.at.Compare(b.at); c != 0 {
			return c < 0
		}
		return subs[i] < subs[j]
	})
	return subs
}

// place is where a node lives, as its events say.
type place struct {
	region, cluster string
}

// places returns each node's latest non-empty region and cluster over all
// events that name a node.
func places(events []experiments.Event) map[string]place {
	named := make([]experiments.Event, 0, len(events))
	for _, e := range events {
		if e.Node != "" && (e.Region != "" || e.Cluster != "") {
			named = append(named, e)
		}
	}
	slices.SortStableFunc(named, func(a, b experiments.Event) int { return a.Time.Compare(b.Time) })
	out := map[string]place{}
	for _, e := range named {
		p := out[e.Node]
		if e.Region != "" {
			p.region = e.Region
		}
		if e.Cluster != "" {
			p.cluster = e.Cluster
		}
		out[e.Node] = p
	}
	return out
}

// describe names a node with its cluster and region when known, e.g.
// "us1-p1 (cluster us1-parent, region us1)".
func describe(node string, where map[string]place) string {
	p := where[node]
	var parts []string
	if p.cluster != "" {
		parts = append(parts, "cluster "+p.cluster)
	}
	if p.region != "" {
		parts = append(parts, "region "+p.region)
	}
	if len(parts) == 0 {
		return node
	}
	return node + " (" + strings.Join(parts, ", ") + ")"
}
