package cloud

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Instance is one instance in the cloud API's inventory.
type Instance struct {
	ID         string    `json:"instanceId"`
	Region     string    `json:"region,omitempty"`
	State      string    `json:"state"`
	LaunchTime time.Time `json:"launchTime"`
	// NetworkInterfaces are the ENIs created for the instance, oldest first.
	NetworkInterfaces []string `json:"networkInterfaceIds,omitempty"`
}

// RunInstancesInput is the body of RunInstances.
type RunInstancesInput struct {
	// Count is how many instances to launch, 1 to MaxRunCount.
	Count  int    `json:"count"`
	Region string `json:"region,omitempty"`
}

// RunInstancesOutput lists the launched instances.
type RunInstancesOutput struct {
	InstanceIDs []string `json:"instanceIds"`
}

// DescribeInstancesInput is the body of DescribeInstances. No ids means
// every instance.
type DescribeInstancesInput struct {
	InstanceIDs []string `json:"instanceIds,omitempty"`
}

// DescribeInstancesOutput lists the requested instances that exist; ids that
// do not exist are left out.
type DescribeInstancesOutput struct {
	Instances []Instance `json:"instances"`
}

// TerminateInstancesInput is the body of TerminateInstances.
type TerminateInstancesInput struct {
	InstanceIDs []string `json:"instanceIds"`
}

// TerminateInstancesOutput lists the instances that existed and are now
// gone. Terminating an unknown id is not an error, like rm -f.
type TerminateInstancesOutput struct {
	TerminatedInstanceIDs []string `json:"terminatedInstanceIds"`
}

// CreateNetworkInterfaceInput is the body of CreateNetworkInterface.
type CreateNetworkInterfaceInput struct {
	InstanceID string `json:"instanceId"`
}

// CreateNetworkInterfaceOutput names the new ENI.
type CreateNetworkInterfaceOutput struct {
	NetworkInterfaceID string `json:"networkInterfaceId"`
	InstanceID         string `json:"instanceId"`
}

// MaxRunCount is the most instances one RunInstances call may launch.
const MaxRunCount = 1000

// API is an emulated EC2-like cloud API: an in-memory inventory of instances
// and their network interfaces behind per-API token buckets. Its zero value
// is not usable; call NewAPI.
type API struct {
	meter   *meter
	buckets map[string]*bucket // fixed at NewAPI; each bucket locks itself
	srv     *http.Server

	mu        sync.Mutex
	limits    Limits
	instances map[string]*Instance
}

// NewAPI returns a cloud API enforcing limits. observe, if not nil, is called
// once per call from the serving goroutine; it must be safe for concurrent
// use and should not block.
func NewAPI(limits Limits, observe func(Call)) (*API, error) {
	if err := limits.Validate(); err != nil {
		return nil, fmt.Errorf("cloud API limits: %w", err)
	}
	now := time.Now()
	a := &API{
		meter: newMeter(observe),
		buckets: map[string]*bucket{
			APIRunInstances:           newBucket(limits.RunInstances, now),
			APIDescribeInstances:      newBucket(limits.DescribeInstances, now),
			APICreateNetworkInterface: newBucket(limits.CreateNetworkInterface, now),
		},
		limits:    limits,
		instances: map[string]*Instance{},
	}
	a.srv = newHTTPServer(a.Handler())
	return a, nil
}

// Handler serves the API: POST /RunInstances, /DescribeInstances,
// /TerminateInstances and /CreateNetworkInterface, JSON in and out.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /"+APIRunInstances, a.handle(APIRunInstances, a.runInstances))
	mux.HandleFunc("POST /"+APIDescribeInstances, a.handle(APIDescribeInstances, a.describeInstances))
	mux.HandleFunc("POST /"+APITerminateInstances, a.handle(APITerminateInstances, a.terminateInstances))
	mux.HandleFunc("POST /"+APICreateNetworkInterface, a.handle(APICreateNetworkInterface, a.createNetworkInterface))
	return mux
}

// Serve answers API calls on l until Shutdown. It returns nil after Shutdown.
func (a *API) Serve(l net.Listener) error { return serve(a.srv, l, "cloud API") }

// Shutdown stops Serve, waiting for calls in flight until ctx ends.
func (a *API) Shutdown(ctx context.Context) error {
	if err := a.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down cloud API: %w", err)
	}
	return nil
}

// Limits returns the limits in force.
func (a *API) Limits() Limits {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.limits
}

// SetLimits changes the limits while the API serves. Tokens already earned
// are kept, so raising a rate takes effect as the bucket refills at the new
// rate; a bucket that was unlimited starts full. The issuer fields are
// ignored here.
func (a *API) SetLimits(l Limits) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("cloud API limits: %w", err)
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.limits = l
	a.buckets[APIRunInstances].set(l.RunInstances, now)
	a.buckets[APIDescribeInstances].set(l.DescribeInstances, now)
	a.buckets[APICreateNetworkInterface].set(l.CreateNetworkInterface, now)
	return nil
}

// Stats returns the call counters per API name.
func (a *API) Stats() map[string]APIStats { return a.meter.snapshot() }

// Instances returns the inventory, sorted by id.
func (a *API) Instances() []Instance {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Instance, 0, len(a.instances))
	for _, in := range a.instances {
		out = append(out, copyInstance(in))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func copyInstance(in *Instance) Instance {
	c := *in
	c.NetworkInterfaces = append([]string(nil), in.NetworkInterfaces...)
	return c
}

// handle wraps an endpoint with its token bucket and accounting.
func (a *API) handle(api string, fn func(*http.Request) (any, *failure)) http.HandlerFunc {
	b := a.buckets[api] // nil: never limited
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		caller := callerOf(r)
		if b != nil && !b.allow(start) {
			a.meter.record(api, caller, OutcomeThrottled, start)
			writeFailure(w, &failure{status: http.StatusTooManyRequests, code: CodeRequestLimitExceeded,
				message: "request limit exceeded", outcome: OutcomeThrottled})
			return
		}
		out, f := fn(r)
		if f != nil {
			a.meter.record(api, caller, f.outcome, start)
			writeFailure(w, f)
			return
		}
		a.meter.record(api, caller, OutcomeOK, start)
		writeJSON(w, http.StatusOK, out)
	}
}

func badRequest(code, format string, args ...any) *failure {
	return &failure{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...), outcome: OutcomeError}
}

func (a *API) runInstances(r *http.Request) (any, *failure) {
	var in RunInstancesInput
	if f := decodeBody(r, &in); f != nil {
		return nil, f
	}
	if in.Count < 1 || in.Count > MaxRunCount {
		return nil, badRequest(CodeInvalidParameterValue, "count %d: want 1 to %d", in.Count, MaxRunCount)
	}
	now := time.Now().UTC()
	a.mu.Lock()
	defer a.mu.Unlock()
	if q := a.limits.InstanceQuota; q > 0 && len(a.instances)+in.Count > q {
		return nil, badRequest(CodeInstanceLimitExceeded, "launching %d instances would exceed the quota of %d (%d running)", in.Count, q, len(a.instances))
	}
	out := RunInstancesOutput{InstanceIDs: make([]string, 0, in.Count)}
	for range in.Count {
		id := newID("i")
		for a.instances[id] != nil {
			id = newID("i")
		}
		a.instances[id] = &Instance{ID: id, Region: in.Region, State: "running", LaunchTime: now}
		out.InstanceIDs = append(out.InstanceIDs, id)
	}
	return out, nil
}

func (a *API) describeInstances(r *http.Request) (any, *failure) {
	var in DescribeInstancesInput
	if f := decodeBody(r, &in); f != nil {
		return nil, f
	}
	if len(in.InstanceIDs) == 0 {
		return DescribeInstancesOutput{Instances: a.Instances()}, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := DescribeInstancesOutput{Instances: []Instance{}}
	for _, id := range in.InstanceIDs {
		if inst := a.instances[id]; inst != nil {
			out.Instances = append(out.Instances, copyInstance(inst))
		}
	}
	return out, nil
}

func (a *API) terminateInstances(r *http.Request) (any, *failure) {
	var in TerminateInstancesInput
	if f := decodeBody(r, &in); f != nil {
		return nil, f
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := TerminateInstancesOutput{TerminatedInstanceIDs: []string{}}
	for _, id := range in.InstanceIDs {
		if a.instances[id] != nil {
			delete(a.instances, id)
			out.TerminatedInstanceIDs = append(out.TerminatedInstanceIDs, id)
		}
	}
	return out, nil
}

func (a *API) createNetworkInterface(r *http.Request) (any, *failure) {
	var in CreateNetworkInterfaceInput
	if f := decodeBody(r, &in); f != nil {
		return nil, f
	}
	if in.InstanceID == "" {
		return nil, badRequest(CodeInvalidParameterValue, "instanceId is required")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	inst := a.instances[in.InstanceID]
	if inst == nil {
		return nil, badRequest(CodeInvalidInstanceIDNotFound, "instance %s does not exist", in.InstanceID)
	}
	eni := newID("eni")
	inst.NetworkInterfaces = append(inst.NetworkInterfaces, eni)
	return CreateNetworkInterfaceOutput{NetworkInterfaceID: eni, InstanceID: inst.ID}, nil
}

// newID returns an AWS-shaped id: prefix, a dash and 17 hex digits.
func newID(prefix string) string {
	return fmt.Sprintf("%s-0%016x", prefix, rand.Uint64())
}

// Adopt records count instances that were running before the experiment
// began (the fleet's first nodes) and returns their ids. It is not an API
// call: it is neither rate-limited nor counted, and it ignores the quota.
func (a *API) Adopt(region string, count int) []string {
	now := time.Now().UTC()
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]string, 0, count)
	for range count {
		id := newID("i")
		for a.instances[id] != nil {
			id = newID("i")
		}
		a.instances[id] = &Instance{ID: id, Region: region, State: "running", LaunchTime: now}
		ids = append(ids, id)
	}
	return ids
}
