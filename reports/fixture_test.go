package reports

import (
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// at is the fixture's first instant, 2023-03-08T06:00:00Z, plus s seconds.
func at(s float64) time.Time {
	return time.Date(2023, 3, 8, 6, 0, 0, 0, time.UTC).Add(time.Duration(s * float64(time.Second)))
}

// fixtureTopology has two regions and three clusters: us1's parent with its
// child us1-app1, and eu1's parent.
func fixtureTopology() *topology.Topology {
	return &topology.Topology{
		Name:   "fixture",
		Source: "preset:fixture",
		Regions: []topology.Region{
			{Name: "us1", Cloud: topology.AWS, Clusters: []topology.Cluster{
				{Name: "us1-parent", Role: topology.Parent, ControlPlanes: 1, Workers: 1},
				{Name: "us1-app1", Role: topology.Child, Parent: "us1-parent", Workers: 2},
			}},
			{Name: "eu1", Cloud: topology.GCP, Clusters: []topology.Cluster{
				{Name: "eu1-parent", Role: topology.Parent, ControlPlanes: 1, Workers: 1},
			}},
		},
	}
}

// timeline builds a scenario's events.
type timeline struct{ events []experiments.Event }

func (tl *timeline) add(s float64, kind experiments.Kind, name, status, cluster, node string, detail map[string]string) {
	region := ""
	if len(cluster) >= 3 {
		region = cluster[:3]
	}
	tl.events = append(tl.events, experiments.Event{Time: at(s), Kind: kind, Name: name, Status: status,
		Region: region, Cluster: cluster, Node: node, Detail: detail})
}

func (tl *timeline) step(s float64, text, status string, detail map[string]string) {
	tl.add(s, experiments.KindStep, text, status, "", "", detail)
}

func (tl *timeline) ready(s float64, node, status string) {
	tl.add(s, experiments.KindNodeReady, "", status, clusterOfNode(node), node, nil)
}

// clusterOfNode strips "-cp0" or "-w1" from a fixture node name.
func clusterOfNode(node string) string {
	for i := len(node) - 1; i >= 0; i-- {
		if node[i] == '-' {
			return node[:i]
		}
	}
	return node
}

// The fixture's step texts.
const (
	stepFleet    = "a fleet on the lab:"
	stepRestart  = "systemd-networkd restarts on 50% of nodes in all regions within 5 seconds"
	stepReboot   = "operators reboot the NotReady nodes in order, 2 at a time:"
	stepAllReady = "all nodes are Ready within 1 minute"
	stepMetrics  = `"metrics-intake" serves at least 99.5% of requests within 10 seconds after all nodes are Ready`
	stepTagIndex = `"tag-index" keeps serving at least 90% of requests in every region`
	failure      = `"tag-index" served less than 90.0%: us1 at worst <b>0.0%</b> (0 of 2) | see & fix`
)

// fixtureEvents is a networkd restart on 3 of 6 nodes: us1-parent-w0 (which
// hosts us1-app1's control plane), us1-app1-w0 and eu1-parent-cp0, then
// reboots in order. "metrics-intake" is sharded over us1-app1's two nodes;
// "tag-index" lives on us1-app1-w1 and fails while us1-app1's control plane
// is down.
func fixtureEvents() []experiments.Event {
	tl := &timeline{}
	const (
		started = "started"
		passed  = "passed"
	)
	nodes := []string{"us1-parent-cp0", "us1-parent-w0", "us1-app1-w0", "us1-app1-w1", "eu1-parent-cp0", "eu1-parent-w0"}
	tl.step(0, "scenario: networkd restarts on half the fleet", started, nil)
	tl.step(0, stepFleet, started, nil)
	for _, n := range nodes {
		tl.ready(0.5, n, experiments.Ready)
	}
	for _, c := range []string{"us1-parent", "us1-app1", "eu1-parent"} {
		tl.add(0.6, experiments.KindControlPlane, "", experiments.Reachable, c, "", nil)
	}
	tl.step(1, stepFleet, passed, nil)

	// Requests every 0.5 s from 1 s to 40 s.
	for ms := 1000; ms < 40000; ms += 500 {
		s := float64(ms) / 1000
		w0 := experiments.OK
		if s >= 3.5 && s < 20 {
			w0 = experiments.Failed
		}
		tl.add(s, experiments.KindRequest, "metrics-intake", w0, "us1-app1", "us1-app1-w0", nil)
		tl.add(s, experiments.KindRequest, "metrics-intake", experiments.OK, "us1-app1", "us1-app1-w1", nil)
		tag := experiments.OK
		if s >= 6 && s < 16 {
			tag = experiments.Failed
		}
		tl.add(s, experiments.KindRequest, "tag-index", tag, "us1-app1", "us1-app1-w1", nil)
	}

	tl.step(2, stepRestart, started, nil)
	for i, n := range []string{"us1-parent-w0", "us1-app1-w0", "eu1-parent-cp0"} {
		tl.add(2, experiments.KindSelection, "networkd-restart", "", clusterOfNode(n), n,
			map[string]string{"offset": []string{"500ms", "1s", "2s"}[i]})
	}
	tl.add(2.5, experiments.KindFault, "networkd-restart", "injected", "us1-parent", "us1-parent-w0", nil)
	tl.add(3, experiments.KindFault, "networkd-restart", "injected", "us1-app1", "us1-app1-w0", nil)
	tl.add(4, experiments.KindFault, "networkd-restart", "injected", "eu1-parent", "eu1-parent-cp0", nil)
	tl.ready(5, "us1-parent-w0", experiments.NotReady)
	tl.add(5.5, experiments.KindControlPlane, "", experiments.Unreachable, "us1-app1", "", nil)
	tl.ready(6, "us1-app1-w0", experiments.NotReady)
	tl.ready(6, "us1-app1-w1", experiments.NotReady)
	tl.ready(6.5, "eu1-parent-cp0", experiments.NotReady)
	tl.add(6.5, experiments.KindControlPlane, "", experiments.Unreachable, "eu1-parent", "", nil)
	tl.step(7, stepRestart, passed, nil)

	tl.step(10, stepReboot, started, nil)
	reboot := func(from, to float64, n string) {
		tl.add(from, experiments.KindAction, "reboot", started, clusterOfNode(n), n, nil)
		tl.add(to, experiments.KindAction, "reboot", "finished", clusterOfNode(n), n, nil)
	}
	reboot(10, 12, "eu1-parent-cp0")
	tl.ready(13, "eu1-parent-cp0", experiments.Ready)
	tl.add(13, experiments.KindControlPlane, "", experiments.Reachable, "eu1-parent", "", nil)
	reboot(12, 14, "us1-parent-w0")
	tl.ready(15, "us1-parent-w0", experiments.Ready)
	tl.add(15.5, experiments.KindControlPlane, "", experiments.Reachable, "us1-app1", "", nil)
	tl.ready(16, "us1-app1-w1", experiments.Ready)
	// us1-app1-w0 flaps: Ready when its control plane is back, NotReady
	// while it reboots.
	tl.ready(16, "us1-app1-w0", experiments.Ready)
	reboot(16.5, 18, "us1-app1-w0")
	tl.ready(17, "us1-app1-w0", experiments.NotReady)
	tl.ready(20, "us1-app1-w0", experiments.Ready)
	tl.step(20, stepReboot, passed, nil)

	tl.step(20, stepAllReady, started, nil)
	tl.step(21, stepAllReady, passed, nil)
	tl.step(21, stepMetrics, started, nil)
	tl.step(40, stepMetrics, passed, nil)
	tl.step(40, stepTagIndex, started, nil)
	tl.step(40.2, stepTagIndex, "failed", map[string]string{"error": failure})
	tl.step(41, "scenario: networkd restarts on half the fleet", "ended", nil)
	tl.add(38, experiments.KindVerdict, "all nodes are Ready within 1 minute", "passed", "", "",
		map[string]string{"required": "every node Ready by +60s", "observed": "all Ready at +31.2s"})
	tl.add(39, experiments.KindVerdict, "nodes became Ready in this order:", "failed", "", "",
		map[string]string{"required": "parent nodes before child nodes", "observed": "us1-app1-w1 before us1-parent-w0 by 1.5s"})
	return tl.events
}

// abortedEvents is a scenario interrupted during its second step.
func abortedEvents() []experiments.Event {
	tl := &timeline{}
	tl.step(50, "scenario: interrupted while the fleet boots", "started", nil)
	tl.step(50, stepFleet, "started", nil)
	tl.step(51, stepFleet, "passed", nil)
	tl.step(51, "all nodes are Ready", "started", nil)
	return tl.events
}

// fixtureJournal is a run of the two scenarios, built the way a run builds
// its journal: from the timelines, with the inputs filled in.
func fixtureJournal() Journal {
	j := FromTimelines("fixture-run", []Scenario{
		{Name: "networkd restarts on half the fleet", Feature: "features/fixture.feature", Line: 3, Events: fixtureEvents()},
		{Name: "interrupted while the fleet boots", Feature: "features/fixture.feature", Line: 20, Events: abortedEvents()},
	})
	j.Inputs = Inputs{
		Features: []string{"features/fixture.feature"},
		Seed:     42,
		Provider: "lab",
		Topology: fixtureTopology(),
		Versions: map[string]string{"go": "go1.26", "aftershock": "v0.0.0-test"},
	}
	return j
}
