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

// Clock is the clock the timeline stamps events with.
func (t *Timeline) Clock() Clock { return t.clock }
