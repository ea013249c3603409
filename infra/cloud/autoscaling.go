package cloud

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Machines is what an auto-scaling group needs from the fleet its instances
// run in: a status check, and a way to destroy and to boot a node.
type Machines interface {
	// StatusCheck is EC2's instance reachability check: nil if the node
	// answers from outside, an error if it does not.
	StatusCheck(ctx context.Context, node string) error
	// Terminate destroys the node's machine.
	Terminate(ctx context.Context, node string) error
	// Launch boots a new node for group on the instance, with a new name and
	// a new address, and returns its name once it runs. The node then joins
	// its cluster on its own: certificate, registration, network.
	Launch(ctx context.Context, group, instanceID string) (string, error)
}

// Replacement states, in the order a replaced node passes them
// (INCIDENTS.md): the auto-scaling group reports the first two, and the
// cluster's API server shows the last two.
const (
	// StateNotStarted: the group decided to replace a node and waits on
	// RunInstances.
	StateNotStarted = "NotStarted"
	// StateUnregistered: the instance runs, but its node has no Node object
	// yet; it waits for a certificate from the issuer.
	StateUnregistered = "Unregistered"
	// StateUnready: the Node exists, but its network is not available.
	StateUnready = "Unready"
	// StateReady: pods can be scheduled.
	StateReady = "Ready"
)

// Replacement is one step of a node replacement, for the timeline.
type Replacement struct {
	Time time.Time
	// Group is the auto-scaling group (the node's cluster).
	Group string
	// Old is the node that failed its status checks.
	Old string
	// New is the replacement node, once it was launched.
	New string
	// InstanceID is the replacement's instance, once RunInstances gave one.
	InstanceID string
	// State is StateNotStarted or StateUnregistered; Err is set, and State
	// empty, if the replacement failed. Old is empty for a scale-up.
	State string
	Err   error
}

// AutoScalingGroup replaces nodes that fail consecutive instance status
// checks, as an AWS auto-scaling group does: it terminates the node and its
// instance, launches a new instance with RunInstances (retrying as Retry
// says while it is throttled or over quota), and boots a new node on it.
type AutoScalingGroup struct {
	// Region is passed to RunInstances.
	Region string
	// API calls the region's cloud API.
	API *Client
	// Machines is the fleet the nodes run in.
	Machines Machines
	// FailedChecks is how many consecutive failed status checks make a node
	// unhealthy (at least 1).
	FailedChecks int
	// CheckInterval is the time between status checks (EC2: one minute).
	CheckInterval time.Duration
	// Retry paces RunInstances and TerminateInstances while they are
	// refused.
	Retry RetryPolicy
	// Observe, if set, is told every step of every replacement.
	Observe func(Replacement)

	mu      sync.Mutex
	members map[string]*member // by node name
}

type member struct {
	group, instanceID string
	failures          int
	replacing         bool
}

// Adopt puts a running node and its instance in group.
func (g *AutoScalingGroup) Adopt(node, group, instanceID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.members == nil {
		g.members = map[string]*member{}
	}
	g.members[node] = &member{group: group, instanceID: instanceID}
}

// Members lists the nodes the group manages now, with their instances.
func (g *AutoScalingGroup) Members() map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]string, len(g.members))
	for n, m := range g.members {
		out[n] = m.instanceID
	}
	return out
}

// Validate checks the group's settings.
func (g *AutoScalingGroup) Validate() error {
	var errs []error
	if g.API == nil || g.Machines == nil {
		errs = append(errs, errors.New("auto-scaling group: API and Machines are required"))
	}
	if g.FailedChecks < 1 {
		errs = append(errs, fmt.Errorf("auto-scaling group: %d failed status checks: want at least 1", g.FailedChecks))
	}
	if g.CheckInterval <= 0 {
		errs = append(errs, fmt.Errorf("auto-scaling group: status check interval %v: want more than 0", g.CheckInterval))
	}
	if err := g.Retry.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("auto-scaling group: %w", err))
	}
	return errors.Join(errs...)
}

// Run checks every member each CheckInterval and replaces the ones that
// failed FailedChecks checks in a row, until ctx ends.
func (g *AutoScalingGroup) Run(ctx context.Context) error {
	if err := g.Validate(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ticker := time.NewTicker(g.CheckInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		for _, node := range g.checkAll(ctx) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g.replace(ctx, node)
			}()
		}
	}
}

// checkAll runs one round of status checks in parallel and returns the nodes
// that just became unhealthy.
func (g *AutoScalingGroup) checkAll(ctx context.Context) []string {
	g.mu.Lock()
	var nodes []string
	for n, m := range g.members {
		if !m.replacing {
			nodes = append(nodes, n)
		}
	}
	g.mu.Unlock()
	failed := make([]bool, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			checkCtx, cancel := context.WithTimeout(ctx, g.CheckInterval)
			defer cancel()
			failed[i] = g.Machines.StatusCheck(checkCtx, n) != nil
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var unhealthy []string
	for i, n := range nodes {
		m := g.members[n]
		if m == nil {
			continue
		}
		if !failed[i] {
			m.failures = 0
			continue
		}
		m.failures++
		if m.failures >= g.FailedChecks && !m.replacing {
			m.replacing = true
			unhealthy = append(unhealthy, n)
		}
	}
	return unhealthy
}

// replace terminates node and brings up its replacement. A failure is
// reported to Observe; the node stays out of the group either way.
func (g *AutoScalingGroup) replace(ctx context.Context, old string) {
	g.mu.Lock()
	m := *g.members[old]
	g.mu.Unlock()
	r := Replacement{Group: m.group, Old: old}
	g.report(r, StateNotStarted, nil)
	err := g.terminate(ctx, old, m.instanceID)
	if err == nil {
		g.mu.Lock()
		delete(g.members, old)
		g.mu.Unlock()
		err = g.launch(ctx, &r)
	}
	if err != nil && ctx.Err() == nil {
		g.report(r, "", fmt.Errorf("replace %s: %w", old, err))
	}
}

// ScaleUp raises group's desired capacity by n: it launches n new nodes at
// once, each through the same pipeline as a replacement, and returns their
// names once every instance runs (the nodes then join on their own).
func (g *AutoScalingGroup) ScaleUp(ctx context.Context, group string, n int) ([]string, error) {
	if n < 1 {
		return nil, fmt.Errorf("scale up %s by %d nodes: want at least 1", group, n)
	}
	names := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := Replacement{Group: group}
			g.report(r, StateNotStarted, nil)
			if errs[i] = g.launch(ctx, &r); errs[i] != nil {
				g.report(r, "", errs[i])
			}
			names[i] = r.New
		}()
	}
	wg.Wait()
	return names, errors.Join(errs...)
}

func (g *AutoScalingGroup) report(r Replacement, state string, err error) {
	if g.Observe == nil {
		return
	}
	r.Time, r.State, r.Err = time.Now(), state, err
	g.Observe(r)
}

// terminate ends the node's instance and its machine.
func (g *AutoScalingGroup) terminate(ctx context.Context, node, instanceID string) error {
	_, err := g.API.RetryUntil(ctx, g.Retry, func(ctx context.Context) error {
		_, err := g.API.TerminateInstances(ctx, instanceID)
		return err
	})
	if err != nil {
		return fmt.Errorf("terminate instance %s: %w", instanceID, err)
	}
	return g.Machines.Terminate(ctx, node)
}

// launch runs an instance for r.Group, retrying while RunInstances is
// throttled or over quota, boots its node and adds it to the group.
func (g *AutoScalingGroup) launch(ctx context.Context, r *Replacement) error {
	var ids []string
	_, err := g.API.RetryUntil(ctx, g.Retry, func(ctx context.Context) error {
		var err error
		ids, err = g.API.RunInstances(ctx, g.Region, 1)
		if errors.Is(err, ErrInstanceLimitExceeded) {
			// Over quota: retry, as an auto-scaling group keeps trying to
			// reach its desired capacity.
			return fmt.Errorf("%w: %w", ErrThrottled, err)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("run instance: %w", err)
	}
	r.InstanceID = ids[0]
	node, err := g.Machines.Launch(ctx, r.Group, ids[0])
	if err != nil {
		return fmt.Errorf("launch %s: %w", ids[0], err)
	}
	r.New = node
	g.Adopt(node, r.Group, ids[0])
	g.report(*r, StateUnregistered, nil)
	return nil
}
