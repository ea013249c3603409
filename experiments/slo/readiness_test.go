package slo

import (
	"maps"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

var four = []string{"us1-a", "us1-b", "us1-c", "us1-d"}

func TestNotReadyFractionWithin(t *testing.T) {
	// Two of four nodes NotReady at once from +5s to +8s.
	overlap := tl(up("us1-a", 0), up("us1-b", 0), up("us1-c", 0), up("us1-d", 0),
		down("us1-a", 2), down("us1-b", 5), up("us1-a", 8), up("us1-b", 9))
	tests := []struct {
		name   string
		events []experiments.Event
		nodes  []string
		from   time.Time
		within time.Duration
		min    float64
		want   want
	}{
		{
			name: "pass", events: overlap, nodes: four, from: t0, within: 10 * time.Second, min: 0.5,
			want: want{
				passed:   true,
				observed: []string{"50.0% (2 of 4 nodes) at 2023-11-08T06:00:05.000Z (+5.000s)"},
				required: []string{"at least 50.0% NotReady within 10s"},
				message:  []string{"reached 50.0% (2 of 4 nodes) at 2023-11-08T06:00:05.000Z (+5.000s); required at least 50.0% NotReady within 10s of 2023-11-08T06:00:00.000Z (+0.000s)"},
			},
		},
		{
			name: "fail names nodes never NotReady", events: overlap, nodes: four, from: t0, within: 10 * time.Second, min: 0.75,
			want: want{
				observed: []string{"50.0% (2 of 4 nodes) at 2023-11-08T06:00:05.000Z (+5.000s)"},
				required: []string{"at least 75.0% NotReady within 10s"},
				message:  []string{"peaked at 50.0% (2 of 4 nodes)", "at least 75.0%", "never NotReady in the window: us1-c, us1-d"},
				absent:   []string{"us1-a,"},
			},
		},
		{
			name: "window too short", events: overlap, nodes: four, from: t0, within: 4 * time.Second, min: 0.5,
			want: want{
				observed: []string{"25.0% (1 of 4 nodes) at 2023-11-08T06:00:02.000Z (+2.000s)"},
				message:  []string{"never NotReady in the window: us1-b, us1-c, us1-d"},
			},
		},
		{
			name: "deadline instant is inside", events: overlap, nodes: four, from: t0, within: 5 * time.Second, min: 0.5,
			want: want{passed: true, observed: []string{"(+5.000s)"}},
		},
		{
			name: "one millisecond short of the deadline", events: overlap, nodes: four, from: t0, within: 4999 * time.Millisecond, min: 0.5,
			want: want{observed: []string{"25.0%"}},
		},
		{
			name:   "NotReady at different times is not at once",
			events: tl(down("us1-a", 1), up("us1-a", 3), down("us1-b", 4), up("us1-b", 6)),
			nodes:  []string{"us1-a", "us1-b"}, from: t0, within: 10 * time.Second, min: 0.75,
			want: want{
				observed: []string{"50.0% (1 of 2 nodes) at 2023-11-08T06:00:01.000Z (+1.000s)"},
				message:  []string{"every node was NotReady at some instant, but not enough at once"},
			},
		},
		{
			name:   "NotReady carried in from before the window counts at from",
			events: tl(down("us1-a", -5), down("us1-b", -1)),
			nodes:  []string{"us1-a", "us1-b"}, from: t0, within: time.Second, min: 1,
			want: want{passed: true, observed: []string{"100.0% (2 of 2 nodes) at 2023-11-08T06:00:00.000Z (+0.000s)"}},
		},
		{
			name:   "reported when reached, and the peak when higher",
			events: overlap, nodes: four, from: t0, within: 10 * time.Second, min: 0.25,
			want: want{passed: true, message: []string{"reached 25.0% (1 of 4 nodes) at 2023-11-08T06:00:02.000Z (+2.000s) and peaked at 50.0% (2 of 4 nodes) at 2023-11-08T06:00:05.000Z (+5.000s)"}},
		},
		{
			name:   "window starts after the events",
			events: overlap, nodes: four, from: at(8), within: 10 * time.Second, min: 0.25,
			want: want{passed: true, observed: []string{"25.0% (1 of 4 nodes) at 2023-11-08T06:00:08.000Z (+0.000s)"}},
		},
		{
			name:   "nodes with no events count in the total",
			events: tl(down("us1-a", 1), down("us1-b", 1)),
			nodes:  []string{"us1-a", "us1-b", "us1-ghost"}, from: t0, within: 10 * time.Second, min: 0.75,
			want: want{
				observed: []string{"66.7% (2 of 3 nodes)"},
				message:  []string{"never NotReady in the window: us1-ghost"},
			},
		},
		{
			name: "out-of-order input", events: shuffled(overlap), nodes: four, from: t0, within: 10 * time.Second, min: 0.5,
			want: want{passed: true, observed: []string{"50.0% (2 of 4 nodes) at 2023-11-08T06:00:05.000Z (+5.000s)"}},
		},
		{
			name:   "duplicate node names count once",
			events: tl(down("us1-a", 1)),
			nodes:  []string{"us1-a", "us1-a", "us1-b"}, from: t0, within: 10 * time.Second, min: 0.5,
			want: want{passed: true, observed: []string{"50.0% (1 of 2 nodes)"}},
		},
		{
			name:   "a status lasting zero time is not an instant",
			events: tl(down("us1-a", 1), down("us1-b", 2), up("us1-b", 2)),
			nodes:  []string{"us1-a", "us1-b"}, from: t0, within: 10 * time.Second, min: 1,
			want: want{observed: []string{"50.0% (1 of 2 nodes) at 2023-11-08T06:00:01.000Z (+1.000s)"}},
		},
		{
			name: "other kinds and statuses are ignored",
			events: tl(
				experiments.Event{Time: at(1), Kind: experiments.KindFault, Node: "us1-a", Status: experiments.NotReady},
				experiments.Event{Time: at(1), Kind: experiments.KindNodeReady, Node: "us1-b", Status: "Unknown"},
				down("us1-c", 1)),
			nodes: []string{"us1-a", "us1-b", "us1-c"}, from: t0, within: 10 * time.Second, min: 0.5,
			want: want{observed: []string{"33.3% (1 of 3 nodes)"}, message: []string{"us1-a, us1-b"}},
		},
		{
			name:   "a fraction meets a minimum computed in floating point",
			events: tl(down("n1", 1), down("n2", 1), down("n3", 1)),
			nodes:  []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10"}, from: t0, within: 10 * time.Second, min: 0.1 * 3,
			want: want{passed: true, observed: []string{"30.0% (3 of 10 nodes)"}},
		},
		{
			name: "no nodes fails", events: overlap, nodes: nil, from: t0, within: 10 * time.Second, min: 0.5,
			want: want{observed: []string{"no nodes"}, message: []string{"no nodes given"}},
		},
		{
			name: "minimum above one is invalid", events: overlap, nodes: four, from: t0, within: 10 * time.Second, min: 55,
			want: want{message: []string{"invalid assertion", "minimum fraction 55 is not between 0 and 1"}},
		},
		{
			name: "negative window is invalid", events: overlap, nodes: four, from: t0, within: -time.Second, min: 0.5,
			want: want{message: []string{"invalid assertion", "window -1s is negative"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, NotReadyFractionWithin(tt.events, tt.nodes, tt.from, tt.within, tt.min), tt.want)
		})
	}
}

func TestAllReadyWithin(t *testing.T) {
	rollback := tl(down("us1-a", -1), down("us1-b", -1), up("us1-a", 3), up("us1-b", 7))
	pair := []string{"us1-a", "us1-b"}
	tests := []struct {
		name   string
		events []experiments.Event
		nodes  []string
		within time.Duration
		want   want
	}{
		{
			name: "pass", events: rollback, nodes: pair, within: 10 * time.Second,
			want: want{
				passed:   true,
				observed: []string{"all 2 nodes Ready at 2023-11-08T06:00:07.000Z (+7.000s)"},
				required: []string{"all nodes Ready within 10s"},
				message:  []string{"last to turn Ready: us1-b (cluster us1-child, region us1) at 2023-11-08T06:00:07.000Z (+7.000s)"},
			},
		},
		{
			name: "fail names the node not Ready and since when", events: rollback, nodes: pair, within: 5 * time.Second,
			want: want{
				observed: []string{"1 of 2 nodes not Ready at deadline 2023-11-08T06:00:05.000Z (+5.000s)", "at most 1 Ready at once"},
				required: []string{"all nodes Ready within 5s"},
				message:  []string{"us1-b (cluster us1-child, region us1) NotReady since 2023-11-08T05:59:59.000Z (-1.000s)", "required all nodes Ready within 5s"},
				absent:   []string{"us1-a"},
			},
		},
		{
			name: "Ready exactly at the deadline", events: rollback, nodes: pair, within: 7 * time.Second,
			want: want{passed: true, observed: []string{"(+7.000s)"}},
		},
		{
			name: "one millisecond short", events: rollback, nodes: pair, within: 6999 * time.Millisecond,
			want: want{message: []string{"us1-b"}},
		},
		{
			name: "already Ready at from", events: tl(up("us1-a", -3), up("us1-b", -2)), nodes: pair, within: 0,
			want: want{passed: true, observed: []string{"at 2023-11-08T06:00:00.000Z (+0.000s)"}, message: []string{"us1-b", "(-2.000s)"}},
		},
		{
			name:   "all Ready at some instant is enough",
			events: append(tl(down("us1-a", 8)), rollback...), nodes: pair, within: 10 * time.Second,
			want: want{passed: true, observed: []string{"(+7.000s)"}},
		},
		{
			name:   "never all Ready at once",
			events: tl(down("us1-a", -1), up("us1-b", -1), up("us1-a", 3), down("us1-b", 3)), nodes: pair, within: 10 * time.Second,
			want: want{message: []string{"us1-b (cluster us1-child, region us1) NotReady since 2023-11-08T06:00:03.000Z (+3.000s)"}, absent: []string{"us1-a"}},
		},
		{
			name: "a node with no events is not Ready", events: rollback, nodes: []string{"us1-a", "us1-b", "us1-ghost"}, within: 10 * time.Second,
			want: want{
				observed: []string{"1 of 3 nodes not Ready", "at most 2 Ready at once (2023-11-08T06:00:07.000Z (+7.000s))"},
				message:  []string{"us1-ghost has no readiness event"},
			},
		},
		{
			name: "out-of-order input", events: shuffled(rollback), nodes: pair, within: 10 * time.Second,
			want: want{passed: true, observed: []string{"(+7.000s)"}},
		},
		{
			name: "no nodes passes vacuously", events: rollback, within: 10 * time.Second,
			want: want{passed: true, observed: []string{"no nodes"}, message: []string{"vacuously"}},
		},
		{
			name: "negative window is invalid", events: rollback, nodes: pair, within: -time.Second,
			want: want{message: []string{"invalid assertion"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, AllReadyWithin(tt.events, tt.nodes, t0, tt.within), tt.want)
		})
	}
}

func TestNoneNotReadyFor(t *testing.T) {
	steady := tl(up("us1-a", -10), up("us1-b", -10), up("us1-c", -10))
	three := []string{"us1-a", "us1-b", "us1-c"}
	tests := []struct {
		name   string
		events []experiments.Event
		nodes  []string
		d      time.Duration
		want   want
	}{
		{
			name: "pass", events: append(tl(down("us1-a", 10.001)), steady...), nodes: three, d: 10 * time.Second,
			want: want{
				passed:   true,
				observed: []string{"0 of 3 nodes NotReady"},
				required: []string{"no node NotReady for 10s"},
				message:  []string{"none of 3 nodes NotReady from 2023-11-08T06:00:00.000Z (+0.000s) to 2023-11-08T06:00:10.000Z (+10.000s)"},
			},
		},
		{
			name: "fail names the first offender", events: append(tl(down("us1-c", 6), down("us1-b", 4), up("us1-b", 5)), steady...), nodes: three, d: 10 * time.Second,
			want: want{
				observed: []string{"us1-b NotReady at 2023-11-08T06:00:04.000Z (+4.000s); 2 of 3 nodes NotReady in the window"},
				required: []string{"no node NotReady for 10s"},
				message: []string{"us1-b (cluster us1-child, region us1) NotReady at 2023-11-08T06:00:04.000Z (+4.000s), required",
					"NotReady in the window: us1-b, us1-c"},
			},
		},
		{
			name: "NotReady exactly at the end fails", events: append(tl(down("us1-a", 10)), steady...), nodes: three, d: 10 * time.Second,
			want: want{message: []string{"us1-a (cluster us1-child, region us1) NotReady at 2023-11-08T06:00:10.000Z (+10.000s)"}},
		},
		{
			name: "NotReady at from fails", events: append(tl(down("us1-a", -2)), steady...), nodes: three, d: 10 * time.Second,
			want: want{message: []string{"us1-a (cluster us1-child, region us1) NotReady at 2023-11-08T06:00:00.000Z (+0.000s) (since 2023-11-08T05:59:58.000Z (-2.000s))"}},
		},
		{
			name: "Ready again exactly at from passes", events: append(tl(down("us1-a", -2), up("us1-a", 0)), steady...), nodes: three, d: 10 * time.Second,
			want: want{passed: true},
		},
		{
			name: "ties go to the first name", events: append(tl(down("us1-c", 3), down("us1-b", 3)), steady...), nodes: three, d: 10 * time.Second,
			want: want{observed: []string{"us1-b NotReady at"}},
		},
		{
			name: "out-of-order input", events: shuffled(append(tl(down("us1-c", 6), down("us1-b", 4), up("us1-b", 5)), steady...)), nodes: three, d: 10 * time.Second,
			want: want{observed: []string{"us1-b NotReady at 2023-11-08T06:00:04.000Z (+4.000s)"}},
		},
		{
			name: "nodes with no events are not NotReady", events: steady, nodes: []string{"us1-a", "us1-ghost"}, d: 10 * time.Second,
			want: want{passed: true, observed: []string{"0 of 2 nodes"}},
		},
		{
			name: "other nodes do not count", events: append(tl(down("us1-z", 1)), steady...), nodes: three, d: 10 * time.Second,
			want: want{passed: true},
		},
		{
			name: "no nodes passes vacuously", events: steady, d: 10 * time.Second,
			want: want{passed: true, message: []string{"vacuously"}},
		},
		{
			name: "negative duration is invalid", events: steady, nodes: three, d: -time.Second,
			want: want{message: []string{"invalid assertion"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, NoneNotReadyFor(tt.events, tt.nodes, t0, tt.d), tt.want)
		})
	}
}

func TestEveryRegionHit(t *testing.T) {
	fleet := []string{"us1-a", "us1-b", "eu1-a", "ap1-a"}
	baseline := tl(up("us1-a", -1), up("us1-b", -1), up("eu1-a", -1), up("ap1-a", -1))
	hit := append(tl(down("us1-b", 1), down("eu1-a", 2), down("ap1-a", 10)), baseline...)
	tests := []struct {
		name   string
		events []experiments.Event
		nodes  []string
		within time.Duration
		want   want
	}{
		{
			name: "pass", events: hit, nodes: fleet, within: 10 * time.Second,
			want: want{
				passed:   true,
				observed: []string{"3 of 3 regions had a NotReady node"},
				required: []string{"a NotReady node in every region within 10s"},
				message:  []string{"last hit: ap1, first ap1-a at 2023-11-08T06:00:10.000Z (+10.000s)"},
			},
		},
		{
			name: "fail names the regions never hit", events: hit, nodes: fleet, within: 9 * time.Second,
			want: want{
				observed: []string{"2 of 3 regions had a NotReady node"},
				required: []string{"a NotReady node in every region within 9s"},
				message:  []string{"1 of 3 regions had no NotReady node within 9s", "ap1 (0 of 1 node)"},
				absent:   []string{"us1 (", "eu1 ("},
			},
		},
		{
			name:   "a region known only from other events is still required",
			events: append(tl(experiments.Event{Time: at(-5), Kind: experiments.KindSelection, Node: "sa1-x", Region: "sa1"}), hit...),
			nodes:  append([]string{"sa1-x"}, fleet...), within: 10 * time.Second,
			want: want{message: []string{"sa1 (0 of 1 node)"}},
		},
		{
			name:   "nodes with no known region are left out",
			events: hit, nodes: append([]string{"ghost"}, fleet...), within: 10 * time.Second,
			want: want{passed: true, message: []string{"1 node with no known region left out: ghost"}},
		},
		{
			name: "out-of-order input", events: shuffled(hit), nodes: fleet, within: 10 * time.Second,
			want: want{passed: true, message: []string{"last hit: ap1"}},
		},
		{
			name: "no nodes fails", events: hit, within: 10 * time.Second,
			want: want{observed: []string{"no nodes"}, message: []string{"no nodes given"}},
		},
		{
			name: "no known region fails", events: hit, nodes: []string{"ghost"}, within: 10 * time.Second,
			want: want{observed: []string{"no regions"}, message: []string{"none of the 1 node given has a known region", "ghost"}},
		},
		{
			name: "negative window is invalid", events: hit, nodes: fleet, within: -time.Second,
			want: want{message: []string{"invalid assertion"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, EveryRegionHit(tt.events, tt.nodes, t0, tt.within), tt.want)
		})
	}
}

func TestReadinessAt(t *testing.T) {
	events := shuffled(tl(up("us1-a", 0), down("us1-a", 5), up("us1-a", 9), down("us1-b", 2), up("us1-c", 6),
		experiments.Event{Time: at(1), Kind: experiments.KindNodeReady, Node: "us1-d", Status: "Unknown"}))
	tests := []struct {
		at   time.Time
		want map[string]string
	}{
		{at(-1), map[string]string{}},
		{at(0), map[string]string{"us1-a": experiments.Ready}},
		{at(5), map[string]string{"us1-a": experiments.NotReady, "us1-b": experiments.NotReady}},
		{at(8.999), map[string]string{"us1-a": experiments.NotReady, "us1-b": experiments.NotReady, "us1-c": experiments.Ready}},
		{at(9), map[string]string{"us1-a": experiments.Ready, "us1-b": experiments.NotReady, "us1-c": experiments.Ready}},
	}
	for _, tt := range tests {
		t.Run(offset(tt.at.Sub(t0)), func(t *testing.T) {
			if got := ReadinessAt(events, tt.at); !maps.Equal(got, tt.want) {
				t.Errorf("ReadinessAt = %v, want %v", got, tt.want)
			}
		})
	}
}
