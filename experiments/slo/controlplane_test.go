package slo

import (
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

func TestControlPlaneUnreachableWithin(t *testing.T) {
	const (
		r = experiments.Reachable
		u = experiments.Unreachable
	)
	outage := tl(cp("us1-child", -10, r), cp("eu1-child", -10, r), cp("us1-child", 3, u), cp("eu1-child", 8, u))
	both := []string{"us1-child", "eu1-child"}
	tests := []struct {
		name     string
		events   []experiments.Event
		clusters []string
		within   time.Duration
		want     want
	}{
		{
			name: "pass", events: outage, clusters: both, within: 10 * time.Second,
			want: want{
				passed:   true,
				observed: []string{"2 of 2 control planes observed unreachable"},
				required: []string{"every control plane unreachable within 10s"},
				message:  []string{"last: eu1-child at 2023-11-08T06:00:08.000Z (+8.000s)"},
			},
		},
		{
			name: "fail names the cluster and its state", events: outage, clusters: both, within: 5 * time.Second,
			want: want{
				observed: []string{"1 of 2 control planes observed unreachable"},
				required: []string{"every control plane unreachable within 5s"},
				message: []string{"1 of 2 control planes never observed unreachable by deadline 2023-11-08T06:00:05.000Z (+5.000s)",
					"eu1-child (reachable since 2023-11-08T05:59:50.000Z (-10.000s))"},
				absent: []string{"us1-child"},
			},
		},
		{
			name: "unreachable exactly at the deadline", events: outage, clusters: both, within: 8 * time.Second,
			want: want{passed: true},
		},
		{
			name: "one millisecond short", events: outage, clusters: both, within: 7999 * time.Millisecond,
			want: want{message: []string{"eu1-child"}},
		},
		{
			name:   "a brief outage inside the window counts",
			events: append(tl(cp("eu1-child", 8.5, r)), outage...), clusters: both, within: 10 * time.Second,
			want: want{passed: true},
		},
		{
			name:   "already unreachable at from counts",
			events: tl(cp("us1-child", -1, u)), clusters: []string{"us1-child"}, within: 0,
			want: want{passed: true, message: []string{"us1-child at 2023-11-08T06:00:00.000Z (+0.000s)"}},
		},
		{
			name:   "unreachable then reachable at the same instant is not observed",
			events: tl(cp("us1-child", 2, u), cp("us1-child", 2, r)), clusters: []string{"us1-child"}, within: 10 * time.Second,
			want: want{message: []string{"us1-child (reachable since 2023-11-08T06:00:02.000Z (+2.000s))"}},
		},
		{
			name:   "a cluster with no events",
			events: outage, clusters: []string{"us1-child", "ap1-child"}, within: 10 * time.Second,
			want: want{message: []string{"ap1-child (no control-plane event)"}},
		},
		{
			name:   "node events do not count",
			events: tl(down("us1-p1", 1)), clusters: []string{"us1-parent"}, within: 10 * time.Second,
			want: want{message: []string{"us1-parent (no control-plane event)"}},
		},
		{
			name: "out-of-order input", events: shuffled(outage), clusters: both, within: 10 * time.Second,
			want: want{passed: true, message: []string{"last: eu1-child"}},
		},
		{
			name: "no clusters fails", events: outage, within: 10 * time.Second,
			want: want{observed: []string{"no clusters"}, message: []string{"no clusters given"}},
		},
		{
			name: "negative window is invalid", events: outage, clusters: both, within: -time.Second,
			want: want{message: []string{"invalid assertion"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, ControlPlaneUnreachableWithin(tt.events, tt.clusters, t0, tt.within), tt.want)
		})
	}
}
