package slo

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

// layers are the 2023 recovery order: parent control planes, then child
// control planes, then workers.
var layers = []Group{
	{Name: "parent", Nodes: []string{"us1-p1", "us1-p2"}},
	{Name: "child", Nodes: []string{"us1-c1", "us1-c2"}},
	{Name: "workers", Nodes: []string{"us1-w1"}},
}

// outage takes every node of layers down at +1s; recoveries follow.
func outage(recoveries ...experiments.Event) []experiments.Event {
	events := tl(up("us1-p1", -5), up("us1-p2", -5), up("us1-c1", -5), up("us1-c2", -5), up("us1-w1", -5),
		down("us1-p1", 1), down("us1-p2", 1), down("us1-c1", 1), down("us1-c2", 1), down("us1-w1", 1))
	return append(events, recoveries...)
}

var inOrder = outage(up("us1-p1", 5), up("us1-p2", 6), up("us1-c1", 7), up("us1-c2", 8), up("us1-w1", 9))

// backwards has child us1-c1 Ready 2s before parent us1-p2.
var backwards = outage(up("us1-p1", 5), up("us1-c1", 4), up("us1-p2", 6), up("us1-c2", 8), up("us1-w1", 9))

func TestRecoveryOrder(t *testing.T) {
	tests := []struct {
		name      string
		events    []experiments.Event
		groups    []Group
		tolerance time.Duration
		want      want
	}{
		{
			name: "pass", events: inOrder, groups: layers,
			want: want{
				passed:   true,
				observed: []string{"parent Ready +5.000s..+6.000s; child Ready +7.000s..+8.000s; workers Ready +9.000s..+9.000s"},
				required: []string{"recovery in order parent, then child, then workers (tolerance 0s)"},
				message:  []string{"groups recovered in order after 2023-11-08T06:00:00.000Z (+0.000s)"},
			},
		},
		{
			name: "backwards order detected", events: backwards, groups: layers,
			want: want{
				observed: []string{"parent Ready +5.000s..+6.000s; child Ready +4.000s..+8.000s"},
				required: []string{"parent, then child, then workers"},
				message: []string{"recovery order broken by 2s (tolerance 0s)",
					"us1-c1 (cluster us1-child, region us1) of child Ready at 2023-11-08T06:00:04.000Z (+4.000s)",
					"before us1-p2 (cluster us1-parent, region us1) of parent Ready at 2023-11-08T06:00:06.000Z (+6.000s)"},
			},
		},
		{
			name: "tolerance absorbs the inversion", events: backwards, groups: layers, tolerance: 2 * time.Second,
			want: want{passed: true, required: []string{"(tolerance 2s)"}},
		},
		{
			name: "tolerance one millisecond short", events: backwards, groups: layers, tolerance: 1999 * time.Millisecond,
			want: want{message: []string{"broken by 2s (tolerance 1.999s)"}},
		},
		{
			name:   "equal recovery times hold",
			events: outage(up("us1-p1", 5), up("us1-p2", 6), up("us1-c1", 6), up("us1-c2", 6), up("us1-w1", 6)), groups: layers,
			want: want{passed: true},
		},
		{
			name: "worst inversion is named",
			// Workers back at +2: 4s before parent us1-p2, 6s before child us1-c2.
			events: outage(up("us1-w1", 2), up("us1-p1", 5), up("us1-c1", 4), up("us1-p2", 6), up("us1-c2", 8)), groups: layers,
			want: want{message: []string{"broken by 6s", "us1-w1 (cluster us1-child, region us1) of workers Ready at", "before us1-c2", "(3 group pairs out of order)"}},
		},
		{
			name:   "a node that never recovered fails",
			events: outage(up("us1-p1", 5), up("us1-c1", 7), up("us1-c2", 8), up("us1-w1", 9)), groups: layers,
			want: want{
				observed: []string{"parent Ready +5.000s..+5.000s (1 of 2 recovered)"},
				message:  []string{"1 node never recovered: us1-p2 (cluster us1-parent, region us1) of parent NotReady since 2023-11-08T06:00:01.000Z (+1.000s)"},
				absent:   []string{"broken by"},
			},
		},
		{
			name:   "repeated NotReady samples keep the start of the outage",
			events: append(outage(up("us1-p1", 5), up("us1-c1", 7), up("us1-c2", 8), up("us1-w1", 9)), down("us1-p2", 3), down("us1-p2", 4)), groups: layers,
			want: want{message: []string{"us1-p2 (cluster us1-parent, region us1) of parent NotReady since 2023-11-08T06:00:01.000Z (+1.000s)"}},
		},
		{
			name:   "both an inversion and an unrecovered node are named",
			events: outage(up("us1-p1", 5), up("us1-c1", 4), up("us1-p2", 6), up("us1-c2", 8)), groups: layers,
			want: want{observed: []string{"workers none of 1 disrupted node recovered"}, message: []string{"broken by 2s", "never recovered: us1-w1"}},
		},
		{
			name: "nodes never disrupted are ignored",
			events: append(outage(up("us1-p1", 5), up("us1-p2", 6), up("us1-c1", 7), up("us1-c2", 8), up("us1-w1", 9)),
				up("us1-w2", -5)),
			groups: []Group{layers[0], layers[1], {Name: "workers", Nodes: []string{"us1-w1", "us1-w2", "us1-w3"}}},
			want:   want{passed: true},
		},
		{
			name:   "a group with no disrupted member is skipped",
			events: tl(up("us1-c1", -5), up("us1-w1", -5), down("us1-p1", 1), down("us1-c1", 1), up("us1-c1", 3), up("us1-p1", 4)),
			groups: []Group{{Name: "parent", Nodes: []string{"us1-p1"}}, {Name: "child", Nodes: []string{"us1-w1"}}, {Name: "workers", Nodes: []string{"us1-c1"}}},
			want:   want{observed: []string{"child not disrupted"}, message: []string{"us1-c1 (cluster us1-child, region us1) of workers Ready at", "before us1-p1"}},
		},
		{
			name: "a flapping node recovers at its final return",
			events: append(outage(up("us1-p1", 5), up("us1-p2", 6), up("us1-c1", 11), up("us1-c2", 11), up("us1-w1", 13)),
				down("us1-p2", 10), up("us1-p2", 12)),
			groups: layers,
			want:   want{message: []string{"broken by 1s", "us1-c1", "us1-p2 (cluster us1-parent, region us1) of parent Ready at 2023-11-08T06:00:12.000Z (+12.000s)"}},
		},
		{
			name:   "NotReady carried in from before after counts",
			events: tl(down("us1-p1", -3), up("us1-c1", -5), down("us1-c1", 1), up("us1-c1", 2), up("us1-p1", 4)),
			groups: layers,
			want:   want{message: []string{"us1-c1", "before us1-p1 (cluster us1-parent, region us1) of parent Ready at 2023-11-08T06:00:04.000Z (+4.000s)"}},
		},
		{
			name:   "a disruption over before after is ignored",
			events: tl(down("us1-c1", -5), up("us1-c1", -4), down("us1-p1", 1), up("us1-p1", 4)),
			groups: layers,
			want:   want{passed: true, observed: []string{"child not disrupted"}},
		},
		{
			name:   "a recovery exactly at after counts",
			events: tl(down("us1-c1", -5), up("us1-c1", 0), down("us1-p1", 1), up("us1-p1", 4)),
			groups: layers,
			want:   want{message: []string{"broken by 4s", "us1-c1 (cluster us1-child, region us1) of child Ready at 2023-11-08T06:00:00.000Z (+0.000s)"}},
		},
		{
			name: "out-of-order input", events: shuffled(backwards), groups: layers,
			want: want{message: []string{"broken by 2s", "us1-c1", "us1-p2"}},
		},
		{
			name: "no disruption holds vacuously", events: tl(up("us1-p1", 1), up("us1-c1", 0)), groups: layers,
			want: want{passed: true, message: []string{"vacuously"}, observed: []string{"parent not disrupted; child not disrupted; workers not disrupted"}},
		},
		{
			name: "no groups holds vacuously", events: backwards, groups: nil,
			want: want{passed: true, message: []string{"no groups given", "vacuously"}, observed: []string{"no groups"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, RecoveryOrder(tt.events, tt.groups, t0, tt.tolerance), tt.want)
		})
	}
}

func TestTimeToRecover(t *testing.T) {
	tests := []struct {
		name   string
		events []experiments.Event
		groups []Group
		after  time.Time
		want   []Recovery
	}{
		{
			name: "every group recovered", events: inOrder, groups: layers, after: t0,
			want: []Recovery{
				{Group: "parent", Disrupted: 2, Recovered: 2, Last: at(6), TimeToRecover: 6 * time.Second},
				{Group: "child", Disrupted: 2, Recovered: 2, Last: at(8), TimeToRecover: 8 * time.Second},
				{Group: "workers", Disrupted: 1, Recovered: 1, Last: at(9), TimeToRecover: 9 * time.Second},
			},
		},
		{
			name: "measured from after", events: shuffled(inOrder), groups: layers[:1], after: at(0.5),
			want: []Recovery{{Group: "parent", Disrupted: 2, Recovered: 2, Last: at(6), TimeToRecover: 5500 * time.Millisecond}},
		},
		{
			name:   "unrecovered members are listed and the time is a lower bound",
			events: outage(up("us1-c1", 7)), groups: layers, after: t0,
			want: []Recovery{
				{Group: "parent", Disrupted: 2, Unrecovered: []string{"us1-p1", "us1-p2"}},
				{Group: "child", Disrupted: 2, Recovered: 1, Last: at(7), TimeToRecover: 7 * time.Second, Unrecovered: []string{"us1-c2"}},
				{Group: "workers", Disrupted: 1, Unrecovered: []string{"us1-w1"}},
			},
		},
		{
			name:   "a group with no disrupted member gets zero",
			events: tl(up("us1-p1", 0), down("us1-c1", 1), up("us1-c1", 2)), groups: layers, after: t0,
			want: []Recovery{
				{Group: "parent"},
				{Group: "child", Disrupted: 1, Recovered: 1, Last: at(2), TimeToRecover: 2 * time.Second},
				{Group: "workers"},
			},
		},
		{
			name:   "repeated Ready samples do not move the recovery",
			events: append(outage(up("us1-p1", 5), up("us1-p2", 6)), up("us1-p1", 20), up("us1-p2", 21)), groups: layers[:1], after: t0,
			want: []Recovery{{Group: "parent", Disrupted: 2, Recovered: 2, Last: at(6), TimeToRecover: 6 * time.Second}},
		},
		{
			name: "no groups", events: inOrder, after: t0, want: []Recovery{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TimeToRecover(tt.events, tt.groups, tt.after); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("TimeToRecover =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// FuzzRecoveryOrder replays arbitrary readiness sequences: three bytes per
// event pick the node, the status and the time.
func FuzzRecoveryOrder(f *testing.F) {
	f.Add([]byte{0, 1, 10, 0, 0, 50, 2, 1, 10, 2, 0, 40}, int64(0))
	f.Add([]byte{1, 1, 200, 1, 0, 0, 3, 3, 128, 5, 2, 128}, int64(time.Second))
	f.Add([]byte{}, int64(-1))
	f.Add([]byte{4, 1, 0, 4, 1, 0, 4, 0, 0}, int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, data []byte, tolerance int64) {
		nodes := []string{"us1-p1", "us1-p2", "us1-c1", "us1-c2", "eu1-w1", "eu1-w2", ""}
		statuses := []string{experiments.Ready, experiments.NotReady, "Unknown", experiments.Ready}
		var events []experiments.Event
		for i := 0; i+2 < len(data); i += 3 {
			e := nodeEvent(nodes[int(data[i])%len(nodes)], float64(int(data[i+2])-64)/10, statuses[int(data[i+1])%len(statuses)])
			if data[i+1] >= 128 {
				e.Kind = experiments.KindControlPlane
				e.Status = []string{experiments.Reachable, experiments.Unreachable}[data[i+1]%2]
			}
			events = append(events, e)
		}
		groups := []Group{
			{Name: "parent", Nodes: nodes[:2]},
			{Name: "child", Nodes: []string{"us1-c1", "us1-c2", "us1-c1"}},
			{Name: "workers", Nodes: nodes[4:]},
			{Name: "empty"},
		}
		tol := time.Duration(tolerance)

		got := RecoveryOrder(events, groups, t0, tol)
		if got.Message == "" || got.Required == "" {
			t.Fatalf("empty verdict: %+v", got)
		}
		unrecovered := false
		for _, r := range TimeToRecover(events, groups, t0) {
			if r.Disrupted != r.Recovered+len(r.Unrecovered) {
				t.Fatalf("%s: %d disrupted, %d recovered, %d unrecovered", r.Group, r.Disrupted, r.Recovered, len(r.Unrecovered))
			}
			if r.Recovered > 0 && (r.Last.Before(t0) || r.TimeToRecover != r.Last.Sub(t0)) {
				t.Fatalf("%s: last %s, time to recover %s", r.Group, r.Last, r.TimeToRecover)
			}
			if r.Recovered == 0 && (r.TimeToRecover != 0 || !r.Last.IsZero()) {
				t.Fatalf("%s recovered no node but reports %s", r.Group, r.TimeToRecover)
			}
			unrecovered = unrecovered || len(r.Unrecovered) > 0
		}
		if unrecovered && got.Passed {
			t.Fatalf("passed with unrecovered nodes: %s", got.Message)
		}
		if lenient := RecoveryOrder(events, groups, t0, math.MaxInt64); lenient.Passed == unrecovered {
			t.Fatalf("with unlimited tolerance, passed = %v but unrecovered = %v: %s", lenient.Passed, unrecovered, lenient.Message)
		}
		if tol < math.MaxInt64-time.Millisecond && got.Passed && !RecoveryOrder(events, groups, t0, tol+time.Millisecond).Passed {
			t.Fatalf("a larger tolerance broke the order")
		}
		if again := RecoveryOrder(reversed(events), groups, t0, tol); again != got {
			t.Fatalf("order of input changed the verdict:\n%+v\n%+v", got, again)
		}

		// The other verdicts replay the same timeline without panicking.
		names := nodes[:6]
		window := time.Duration(int64(len(data))) * time.Second
		_ = NotReadyFractionWithin(events, names, t0, window, 0.5)
		_ = AllReadyWithin(events, names, t0, window)
		_ = NoneNotReadyFor(events, names, t0, window)
		_ = EveryRegionHit(events, names, t0, window)
		_ = ControlPlaneUnreachableWithin(events, []string{"us1-parent", "us1-child"}, t0, window)
		_ = ReadinessAt(events, t0)
	})
}

// reversed reverses events, except that events sharing a time keep their
// relative order, since that order decides ties.
func reversed(events []experiments.Event) []experiments.Event {
	out := make([]experiments.Event, 0, len(events))
	for i := len(events) - 1; i >= 0; i-- {
		out = append(out, events[i])
	}
	byTime := map[time.Time][]experiments.Event{}
	for _, e := range events {
		byTime[e.Time] = append(byTime[e.Time], e)
	}
	next := map[time.Time]int{}
	for i, e := range out {
		out[i] = byTime[e.Time][next[e.Time]]
		next[e.Time]++
	}
	return out
}
