package cloud

import (
	"sync"
	"time"
)

// API names, as they appear in Stats, in Call.API and as the last element of
// the request path (the issuer's login is served at LoginPath).
const (
	APIRunInstances           = "RunInstances"
	APIDescribeInstances      = "DescribeInstances"
	APITerminateInstances     = "TerminateInstances"
	APICreateNetworkInterface = "CreateNetworkInterface"
	APIIssuerLogin            = "IssuerLogin"
)

// LoginPath is where the issuer serves APIIssuerLogin, as Vault serves its
// AWS auth method.
const LoginPath = "/v1/auth/aws/login"

// Call outcomes.
const (
	// OutcomeOK: the call succeeded.
	OutcomeOK = "ok"
	// OutcomeThrottled: a rate limit refused the call (HTTP 429).
	OutcomeThrottled = "throttled"
	// OutcomeShed: a concurrency limit refused the call (HTTP 503).
	OutcomeShed = "shed"
	// OutcomeError: the call was admitted but failed (bad input, unknown
	// instance, upstream failure).
	OutcomeError = "error"
)

// Call is one request a service answered, for the experiment's timeline.
type Call struct {
	// Time is when the request arrived.
	Time time.Time
	// API is the API name, e.g. APICreateNetworkInterface.
	API string
	// Outcome is one of OutcomeOK, OutcomeThrottled, OutcomeShed,
	// OutcomeError.
	Outcome string
	// Latency is how long the service took to decide.
	Latency time.Duration
	// Caller is the X-Caller header, or the remote address without one.
	Caller string
}

// APIStats counts the calls of one API. Calls = OK + Throttled + Shed +
// Errors.
type APIStats struct {
	Calls     int64
	OK        int64
	Throttled int64
	Shed      int64
	Errors    int64
}

// ThrottledShare is the fraction of calls that were throttled, 0 with no
// calls.
func (s APIStats) ThrottledShare() float64 {
	if s.Calls == 0 {
		return 0
	}
	return float64(s.Throttled) / float64(s.Calls)
}

// ShedShare is the fraction of calls that were shed, 0 with no calls.
func (s APIStats) ShedShare() float64 {
	if s.Calls == 0 {
		return 0
	}
	return float64(s.Shed) / float64(s.Calls)
}

// meter counts calls per API and forwards them to an observer.
type meter struct {
	observe func(Call)
	mu      sync.Mutex
	stats   map[string]*APIStats
}

func newMeter(observe func(Call)) *meter {
	return &meter{observe: observe, stats: map[string]*APIStats{}}
}

// record counts one call that arrived at start.
func (m *meter) record(api, caller, outcome string, start time.Time) {
	c := Call{Time: start, API: api, Outcome: outcome, Latency: time.Since(start), Caller: caller}
	m.mu.Lock()
	s := m.stats[api]
	if s == nil {
		s = &APIStats{}
		m.stats[api] = s
	}
	s.Calls++
	switch outcome {
	case OutcomeOK:
		s.OK++
	case OutcomeThrottled:
		s.Throttled++
	case OutcomeShed:
		s.Shed++
	default:
		s.Errors++
	}
	m.mu.Unlock()
	if m.observe != nil {
		m.observe(c)
	}
}

// snapshot copies the counters.
func (m *meter) snapshot() map[string]APIStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]APIStats, len(m.stats))
	for k, v := range m.stats {
		out[k] = *v
	}
	return out
}
