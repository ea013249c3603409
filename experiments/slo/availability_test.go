package slo

import (
	"strings"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

// req builds one probe request to "svc" at t0+ms.
func req(ms int, region, cluster, node string, ok bool) experiments.Event {
	status := experiments.OK
	if !ok {
		status = experiments.Failed
	}
	return experiments.Event{Time: t0.Add(time.Duration(ms) * time.Millisecond), Kind: experiments.KindRequest,
		Name: "svc", Status: status, Region: region, Cluster: cluster, Node: node}
}

// steady sends one request a 100 ms to each node from..to ms; down says
// which nodes fail.
func steady(from, to int, nodes map[string][2]string, down map[string]bool) []experiments.Event {
	var out []experiments.Event
	for ms := from; ms < to; ms += 100 {
		for node, where := range nodes {
			out = append(out, req(ms, where[0], where[1], node, !down[node]))
		}
	}
	return out
}

var fleet = map[string][2]string{
	"us1-a-0": {"us1", "us1-a"}, "us1-a-1": {"us1", "us1-a"}, "us1-a-2": {"us1", "us1-a"},
	"eu1-a-0": {"eu1", "eu1-a"}, "eu1-a-1": {"eu1", "eu1-a"}, "eu1-a-2": {"eu1", "eu1-a"},
}

func TestAvailabilityPerRegion(t *testing.T) {
	healthy := steady(0, 4000, fleet, nil)
	// From 2 s on, two of us1's three shards fail: 33.3% in us1.
	degraded := append(steady(0, 2000, fleet, nil), steady(2000, 4000, fleet, map[string]bool{"us1-a-0": true, "us1-a-1": true})...)
	tests := []struct {
		name   string
		events []experiments.Event
		min    float64
		pass   bool
		want   string
	}{
		{"healthy", healthy, 0.995, true, "us1 at worst 100.0%"},
		{"the average would pass but one stretch does not", degraded, 0.5, false, "us1 at worst 33.3%"},
		{"the floor holds at the worst stretch", degraded, 0.3, true, "eu1 at worst 100.0%"},
		{"no requests", nil, 0.1, false, "nothing was probed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := AvailabilityPerRegion(tt.events, "svc", t0, t0.Add(4*time.Second), 2*time.Second, tt.min)
			if r.Passed != tt.pass || !strings.Contains(r.Message, tt.want) {
				t.Errorf("passed=%v message %q; want passed=%v containing %q", r.Passed, r.Message, tt.pass, tt.want)
			}
		})
	}
}

func TestUnavailableInSomeCluster(t *testing.T) {
	quorumLost := append(steady(0, 1000, fleet, nil), steady(1000, 5000, fleet, map[string]bool{"eu1-a-0": true, "eu1-a-1": true, "eu1-a-2": true})...)
	blip := append(steady(0, 1000, fleet, nil), steady(1000, 1500, fleet, map[string]bool{"eu1-a-0": true, "eu1-a-1": true, "eu1-a-2": true})...)
	blip = append(blip, steady(1500, 5000, fleet, nil)...)
	tests := []struct {
		name   string
		events []experiments.Event
		pass   bool
		want   string
	}{
		{"quorum lost in eu1-a", quorumLost, true, "unavailable in eu1-a from"},
		{"a half-second blip is not unavailability", blip, false, "never went unavailable for 2s"},
		{"healthy", steady(0, 5000, fleet, nil), false, "us1-a 100.0%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := UnavailableInSomeCluster(tt.events, "svc", t0, t0.Add(5*time.Second), 2*time.Second)
			if r.Passed != tt.pass || !strings.Contains(r.Message, tt.want) {
				t.Errorf("passed=%v message %q; want passed=%v containing %q", r.Passed, r.Message, tt.pass, tt.want)
			}
		})
	}
}

func TestAvailabilityAtLeast(t *testing.T) {
	events := append(steady(0, 1000, fleet, map[string]bool{"us1-a-2": true}), steady(1000, 2000, fleet, nil)...)
	if r := AvailabilityAtLeast(events, "svc", t0.Add(time.Second), t0.Add(2*time.Second), 0.995); !r.Passed {
		t.Errorf("recovered window failed: %s", r.Message)
	}
	r := AvailabilityAtLeast(events, "svc", t0, t0.Add(2*time.Second), 0.995)
	if r.Passed || !strings.Contains(r.Message, "us1-a-2") || !strings.Contains(r.Message, "91.7%") {
		t.Errorf("degraded window: passed=%v %q, want a failure naming us1-a-2 at 91.7%%", r.Passed, r.Message)
	}
	if r := AvailabilityAtLeast(nil, "svc", t0, t0.Add(time.Second), 0.5); r.Passed {
		t.Error("no requests passed")
	}
}
