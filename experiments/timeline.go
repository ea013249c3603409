package experiments

import (
	"sync"
	"time"
)

// Kind says what an event records.
type Kind string

// Event kinds. Node and Cluster name what the event is about; Status holds
// the state the event reports.
const (
	// KindStep marks a scenario step starting (Status "started") or ending
	// ("passed", "failed", "skipped"); Name is the step text.
	KindStep Kind = "step"
	// KindSelection records one node chosen by a targeting step: Name is the
	// fault, Detail["offset"] its scheduled start after the step's instant.
	KindSelection Kind = "selection"
	// KindFault records a fault on a node: Status "injected" or "reverted"
	// (or "failed"), Name the fault, Detail what it changed.
	KindFault Kind = "fault"
	// KindAction records an operator or cloud action on a node (Name
	// "reboot", "terminate"): Status "started", "finished" or "failed".
	KindAction Kind = "action"
	// KindNodeReady is a node's Ready condition, as a probe observed it:
	// Status "Ready" or "NotReady". The first sample of each node is one too.
	KindNodeReady Kind = "node-ready"
	// KindControlPlane is a cluster's API server reachability: Status
	// "reachable" or "unreachable".
	KindControlPlane Kind = "control-plane"
	// KindRequest is one probe request to a service: Name is the service,
	// Status "ok" or "failed", Node the shard or replica asked, and Detail
	// the latency and any error.
	KindRequest Kind = "request"
	// KindCloudCall is one call to the cloud API or the certificate
	// issuer: Name is the API ("CreateNetworkInterface"), Status the outcome
	// ("ok", "throttled", "shed", "error"), Node the caller's node if any.
	KindCloudCall Kind = "cloud-call"
	// KindInstance is one step of a cloud instance's life in an
	// auto-scaling group: Name "replacement" or "scale-up", Status the
	// state it entered (NotStarted, Unregistered) or "failed", Node the new
	// node once it has one, Detail["replaces"] the node it replaces and
	// Detail["instance"] its instance. The later states, Unready and Ready,
	// are the new node's node-ready events.
	KindInstance Kind = "instance"
	// KindStop is a stop condition that triggered: Name is the condition
	// as the scenario states it, Status "triggered" (Detail "observed",
	// "required"), then "reverted" (or "revert failed") once every fault
	// was reverted.
	KindStop Kind = "stop"
	// KindVerdict is the outcome of an assertion step: Name is the step,
	// Status "passed" or "failed", Detail["required"] and
	// Detail["observed"] the SLO and what the timeline showed.
	KindVerdict Kind = "verdict"
)

// Node readiness and control-plane statuses.
const (
	Ready       = "Ready"
	NotReady    = "NotReady"
	Reachable   = "reachable"
	Unreachable = "unreachable"
	OK          = "ok"
	Failed      = "failed"
)

// Event is one time-stamped fact of a run.
type Event struct {
	Time    time.Time         `json:"time"`
	Kind    Kind              `json:"kind"`
	Name    string            `json:"name,omitempty"`
	Status  string            `json:"status,omitempty"`
	Region  string            `json:"region,omitempty"`
	Cluster string            `json:"cluster,omitempty"`
	Node    string            `json:"node,omitempty"`
	Detail  map[string]string `json:"detail,omitempty"`
}

// Timeline is the append-only record of a run. It is safe for concurrent use.
type Timeline struct {
	clock  Clock
	mu     sync.Mutex
	events []Event
}

// NewTimeline returns an empty timeline stamping events with clock.
func NewTimeline(clock Clock) *Timeline {
	if clock == nil {
		clock = RealClock{}
	}
	return &Timeline{clock: clock}
}

// Append records e, stamping it with the clock's time if it has none.
func (t *Timeline) Append(e Event) Event {
	if e.Time.IsZero() {
		e.Time = t.clock.Now()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, e)
	return e
}

// Events returns a copy of every event so far, in the order appended.
func (t *Timeline) Events() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Event(nil), t.events...)
}

// Kinds returns a copy of the events of the given kinds, in the order
// appended. Verdicts that poll a long timeline use it to copy only what they
// read: a herd of cloud calls can put a thousand events a second on it.
func (t *Timeline) Kinds(kinds ...Kind) []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Event
	for _, e := range t.events {
		for _, k := range kinds {
			if e.Kind == k {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// Clock is the clock the timeline stamps events with.
func (t *Timeline) Clock() Clock { return t.clock }
