package probe

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/infra"
)

func node(name string, ready corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"topology.kubernetes.io/region": "us1"}},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}},
	}
}

type step struct {
	kind, node, status string
}

func statuses(tl *experiments.Timeline) []step {
	var out []step
	for _, e := range tl.Events() {
		out = append(out, step{string(e.Kind), e.Node, e.Status})
	}
	return out
}

// The readiness probe records first samples and changes only, treats every
// node of an unreachable cluster as NotReady at one instant, and looks at
// every node again when the control plane answers. The informer feeding it is
// exercised against real API servers by the feature suite.
func TestReadinessTransitions(t *testing.T) {
	tl := experiments.NewTimeline(nil)
	r := &Readiness{Cluster: "us1-app1", Region: "us1", Timeline: tl, last: map[string]string{}}
	store := cache.NewStore(cache.MetaNamespaceKeyFunc)
	r.store = store

	a, b := node("a", corev1.ConditionTrue), node("b", corev1.ConditionTrue)
	// A child's control plane hosted on a parent node (kind) is no fleet
	// node: its reachability is probed as a control plane instead.
	hosted := node("us1-app1-control-plane", corev1.ConditionTrue)
	hosted.Labels[infra.LabelHostedOn] = "us1-parent-w0"
	for _, n := range []*corev1.Node{a, b, hosted} {
		_ = store.Add(n)
		r.observe(n)
	}
	r.observe(a) // no change, no event
	r.SetReachable(false)
	r.observe(node("a", corev1.ConditionTrue)) // a stale cache says nothing while cut off
	_ = store.Update(node("b", corev1.ConditionUnknown))
	r.SetReachable(true)

	want := []step{
		{"node-ready", "a", "Ready"}, {"node-ready", "b", "Ready"},
		{"node-ready", "a", "NotReady"}, {"node-ready", "b", "NotReady"},
		{"node-ready", "a", "Ready"},
	}
	got := statuses(tl)
	// The two unknowns come in map order; compare as sets per phase.
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	seen := map[step]int{}
	for _, s := range got {
		seen[s]++
	}
	for _, s := range want {
		if seen[s] == 0 {
			t.Errorf("missing event %v in %v", s, got)
		}
		seen[s]--
	}
	events := tl.Events()
	if !events[2].Time.Equal(events[3].Time) {
		t.Errorf("nodes cut off together were stamped %v and %v: one observation, one instant", events[2].Time, events[3].Time)
	}
	if events[2].Detail["condition"] != "control plane unreachable: readiness unknown" {
		t.Errorf("unknown readiness not explained: %v", events[2].Detail)
	}
	if r.Current()["b"] != experiments.NotReady {
		t.Errorf("b is %q, want NotReady (Unknown counts as NotReady)", r.Current()["b"])
	}
}

func TestControlPlaneRecordsChangesOnly(t *testing.T) {
	tl := experiments.NewTimeline(nil)
	var calls []bool
	p := &ControlPlane{Cluster: "c", Region: "r", Timeline: tl, OnChange: func(up bool) { calls = append(calls, up) }}
	for _, s := range []string{experiments.Reachable, experiments.Reachable, experiments.Unreachable, experiments.Unreachable, experiments.Reachable} {
		p.record(s, "")
		time.Sleep(time.Millisecond)
	}
	got := statuses(tl)
	if len(got) != 3 || got[1].status != experiments.Unreachable || len(calls) != 3 || calls[1] {
		t.Errorf("events %v, callbacks %v: want reachable, unreachable, reachable", got, calls)
	}
}
