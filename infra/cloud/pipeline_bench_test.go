package cloud_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/infra/cloud"
)

// pipelineNodes are the nodes an auto-scaling group launches in the
// benchmark: Launch starts a node that logs in to the real issuer (retrying
// with backoff, as the lab's agent does) and then waits, pending, for the
// real network operator. Only the fleet is in memory.
type pipelineNodes struct {
	issuerURL string
	ctx       context.Context
	retry     cloud.RetryPolicy

	mu      sync.Mutex
	seq     int
	pending []cloud.PendingNode
	ready   map[string]time.Time
	wg      sync.WaitGroup
}

func (p *pipelineNodes) StatusCheck(context.Context, string) error { return nil }
func (p *pipelineNodes) Terminate(context.Context, string) error   { return nil }

func (p *pipelineNodes) Launch(_ context.Context, _, instanceID string) (string, error) {
	p.mu.Lock()
	p.seq++
	name := fmt.Sprintf("ip-%d", p.seq)
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		client := cloud.NewClient(p.issuerURL, name, nil)
		policy := p.retry
		rnd := rand.New(rand.NewPCG(uint64(len(name)), 1))
		for attempt := 1; p.ctx.Err() == nil; attempt++ {
			if _, err := client.Login(p.ctx, instanceID); err == nil {
				p.mu.Lock()
				p.pending = append(p.pending, cloud.PendingNode{Name: name, InstanceID: instanceID})
				p.mu.Unlock()
				return
			}
			select {
			case <-p.ctx.Done():
			case <-time.After(policy.Next(attempt, rnd)):
			}
		}
	}()
	return name, nil
}

func (p *pipelineNodes) Pending(context.Context) ([]cloud.PendingNode, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []cloud.PendingNode
	for _, n := range p.pending {
		if _, ok := p.ready[n.Name]; !ok {
			out = append(out, n)
		}
	}
	return out, nil
}

func (p *pipelineNodes) Attach(_ context.Context, node string, _ []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ready[node] = time.Now()
	return nil
}

// BenchmarkReplacementThroughput launches 60 nodes at once through the whole
// registration pipeline, over real HTTP to the emulated cloud API and issuer,
// for several limit tables, and compares the nodes per minute that reached
// Ready with what the tightest limit allows: RunInstances per second, issuer
// concurrency over its per-login time, or CreateNetworkInterface per second
// over the interfaces each node needs. The network operator backs off
// exponentially and paces itself to the API's limit, as the fixed Cilium
// operator does.
func BenchmarkReplacementThroughput(b *testing.B) {
	const nodes = 60
	k := float64(cloud.DefaultInterfacesPerNode)
	fast := cloud.FixedRetry(10 * time.Millisecond)
	backoff := cloud.ExponentialRetry(50*time.Millisecond, time.Second)
	unlimitedRun := cloud.Rate{PerSecond: 100, Burst: 100}
	tables := []struct {
		name   string
		limits cloud.Limits
		// retry is how the group retries RunInstances and nodes retry
		// their login: every 10 ms takes every token the limits allow;
		// backing off leaves some unused.
		retry cloud.RetryPolicy
	}{
		{"CreateNetworkInterface 10/s", cloud.Limits{RunInstances: unlimitedRun, CreateNetworkInterface: cloud.Rate{PerSecond: 10, Burst: 10}}, backoff},
		{"CreateNetworkInterface 20/s", cloud.Limits{RunInstances: unlimitedRun, CreateNetworkInterface: cloud.Rate{PerSecond: 20, Burst: 20}}, backoff},
		{"issuer 4 at once x 500ms", cloud.Limits{RunInstances: unlimitedRun, IssuerConcurrency: 4, IssuerLatency: 500 * time.Millisecond}, fast},
		{"issuer 4 at once x 500ms, backoff", cloud.Limits{RunInstances: unlimitedRun, IssuerConcurrency: 4, IssuerLatency: 500 * time.Millisecond}, backoff},
		{"RunInstances 4/s", cloud.Limits{RunInstances: cloud.Rate{PerSecond: 4, Burst: 1}}, fast},
		{"RunInstances 4/s, backoff", cloud.Limits{RunInstances: cloud.Rate{PerSecond: 4, Burst: 1}}, backoff},
	}
	for _, tt := range tables {
		b.Run(tt.name, func(b *testing.B) {
			for range b.N {
				allowed := math.Inf(1) // nodes per second
				l := tt.limits
				if !l.RunInstances.IsUnlimited() {
					allowed = math.Min(allowed, l.RunInstances.PerSecond)
				}
				if l.IssuerConcurrency > 0 && l.IssuerLatency > 0 {
					allowed = math.Min(allowed, float64(l.IssuerConcurrency)/l.IssuerLatency.Seconds())
				}
				if !l.CreateNetworkInterface.IsUnlimited() {
					allowed = math.Min(allowed, l.CreateNetworkInterface.PerSecond/k)
				}
				got := runPipeline(b, l, tt.retry, nodes)
				fmt.Printf("replacement pipeline, %-36s %6.1f nodes/min, limits allow %6.1f: ratio %.2f\n",
					tt.name+":", got*60, allowed*60, got/allowed)
				b.ReportMetric(got*60, "nodes/min")
			}
		})
	}
}

// runPipeline scales a group up by n and returns the throughput in nodes per
// second: n over the time from the scale-up to the last node Ready.
func runPipeline(b *testing.B, limits cloud.Limits, retry cloud.RetryPolicy, n int) float64 {
	b.Helper()
	_, apiURL := startAPI(b, limits, nil)
	_, issuerURL := startIssuer(b, apiURL, limits, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fleet := &pipelineNodes{issuerURL: issuerURL, ctx: ctx, retry: retry, ready: map[string]time.Time{}}
	qps := 0.0
	if !limits.CreateNetworkInterface.IsUnlimited() {
		qps = limits.CreateNetworkInterface.PerSecond
	}
	op := &cloud.NetworkOperator{API: cloud.NewClient(apiURL, "operator", nil), Nodes: fleet,
		Retry: cloud.ExponentialRetry(100*time.Millisecond, 5*time.Second), QPS: qps, Resync: 20 * time.Millisecond}
	opDone := make(chan error, 1)
	go func() { opDone <- op.Run(ctx) }()
	group := &cloud.AutoScalingGroup{Region: "us1", API: cloud.NewClient(apiURL, "asg", nil), Machines: fleet,
		FailedChecks: 1, CheckInterval: time.Second, Retry: retry}
	start := time.Now()
	if _, err := group.ScaleUp(ctx, "app1", n); err != nil {
		b.Fatalf("scale up: %v", err)
	}
	for ctx.Err() == nil {
		fleet.mu.Lock()
		done := len(fleet.ready)
		fleet.mu.Unlock()
		if done == n {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-opDone
	fleet.wg.Wait()
	var last time.Time
	for _, t := range fleet.ready {
		if t.After(last) {
			last = t
		}
	}
	if len(fleet.ready) != n {
		b.Fatalf("%d of %d nodes Ready within 3 minutes", len(fleet.ready), n)
	}
	return float64(n) / last.Sub(start).Seconds()
}
