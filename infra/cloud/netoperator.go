package cloud

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// PendingNode is a registered node that has no network interfaces yet.
type PendingNode struct {
	Name       string
	InstanceID string
}

// NodeNetworks is the cluster side of the network operator: which nodes wait
// for their interfaces, and how to hand the interfaces to a node.
type NodeNetworks interface {
	// Pending lists the nodes that joined without their network.
	Pending(ctx context.Context) ([]PendingNode, error)
	// Attach records the node's interfaces, so the node's network becomes
	// available and the node can turn Ready.
	Attach(ctx context.Context, node string, interfaces []string) error
}

// DefaultInterfacesPerNode is how many interfaces the operator creates for a
// new node in one resolution pass.
const DefaultInterfacesPerNode = 3

// NetworkOperator gives new nodes their network interfaces, the way Cilium's
// operator does in ENI mode: for each node it runs an IP-deficit resolution
// pass that creates InterfacesPerNode interfaces with CreateNetworkInterface,
// one after the other. Any failed call fails the whole pass, which starts
// again from nothing after the Retry policy's wait; the interfaces an
// aborted pass created are left behind. That is the 2023 bug: with a 10 ms
// retry and no backoff, every refill of the token bucket is taken by some
// pass that fails on its next call, so almost no pass completes and more
// than 99% of calls are throttled. With exponential backoff the callers
// spread out, the bucket refills, and passes complete.
type NetworkOperator struct {
	// API calls the region's cloud API.
	API *Client
	// Nodes is the cluster the operator serves.
	Nodes NodeNetworks
	// Retry is the wait between failed passes of one node.
	Retry RetryPolicy
	// InterfacesPerNode is how many interfaces a pass creates; 0 means
	// DefaultInterfacesPerNode.
	InterfacesPerNode int
	// Resync is how often the operator looks for pending nodes; 0 means
	// 200 ms.
	Resync time.Duration
	// QPS, if more than 0, is the operator's own client-side rate limit
	// (Cilium's --limit-ipam-api-qps): its calls, all nodes together, are
	// spaced to at most QPS a second. The 2023 bug bypassed it; 0 means none.
	QPS float64

	pace pacer

	mu      sync.Mutex
	working map[string]bool
	passes  map[string]int // failed passes per node, for Stats
}

// Validate checks the operator's settings.
func (o *NetworkOperator) Validate() error {
	var errs []error
	if o.API == nil || o.Nodes == nil {
		errs = append(errs, errors.New("network operator: API and Nodes are required"))
	}
	if o.QPS < 0 {
		errs = append(errs, fmt.Errorf("network operator: %g calls per second: want 0 (no limit) or more", o.QPS))
	}
	if o.InterfacesPerNode < 0 {
		errs = append(errs, fmt.Errorf("network operator: %d interfaces per node: want at least 1", o.InterfacesPerNode))
	}
	if err := o.Retry.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("network operator: %w", err))
	}
	return errors.Join(errs...)
}

// FailedPasses returns how many resolution passes failed, per node.
func (o *NetworkOperator) FailedPasses() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]int, len(o.passes))
	for n, c := range o.passes {
		out[n] = c
	}
	return out
}

// Run resolves every pending node's deficit until ctx ends.
func (o *NetworkOperator) Run(ctx context.Context) error {
	if err := o.Validate(); err != nil {
		return err
	}
	resync := o.Resync
	if resync <= 0 {
		resync = 200 * time.Millisecond
	}
	o.mu.Lock()
	o.working, o.passes = map[string]bool{}, map[string]int{}
	o.mu.Unlock()
	if o.QPS > 0 {
		o.pace.interval = time.Duration(float64(time.Second) / o.QPS)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ticker := time.NewTicker(resync)
	defer ticker.Stop()
	for {
		pending, err := o.Nodes.Pending(ctx)
		if err == nil {
			for _, n := range pending {
				if !o.claim(n.Name) {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer o.release(n.Name)
					o.resolve(ctx, n)
				}()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

func (o *NetworkOperator) claim(node string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.working[node] {
		return false
	}
	o.working[node] = true
	return true
}

func (o *NetworkOperator) release(node string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.working, node)
}

// resolve runs passes for one node until one completes and the node has its
// interfaces, or ctx ends. A node whose instance is gone is given up on.
func (o *NetworkOperator) resolve(ctx context.Context, n PendingNode) {
	want := o.InterfacesPerNode
	if want == 0 {
		want = DefaultInterfacesPerNode
	}
	var created []string
	_, err := o.API.RetryUntil(ctx, o.Retry, func(ctx context.Context) error {
		created = created[:0]
		for range want {
			if err := o.pace.wait(ctx); err != nil {
				return err
			}
			eni, err := o.API.CreateNetworkInterface(ctx, n.InstanceID)
			if err != nil {
				o.mu.Lock()
				o.passes[n.Name]++
				o.mu.Unlock()
				return err
			}
			created = append(created, eni)
		}
		return nil
	})
	if err != nil {
		return
	}
	// Attaching goes to the cluster's API server, which may be briefly
	// unreachable; the next resync finds the node again if this fails.
	_ = o.Nodes.Attach(ctx, n.Name, created)
}

// pacer spaces calls at least interval apart; the zero pacer does not wait.
type pacer struct {
	interval time.Duration
	mu       sync.Mutex
	next     time.Time
}

func (p *pacer) wait(ctx context.Context) error {
	if p.interval <= 0 {
		return nil
	}
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	p.mu.Unlock()
	t := time.NewTimer(at.Sub(now))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
