package cloud_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/infra/cloud"
)

// fakeNetworks is the cluster side of the network operator, in memory: the
// logic above the API server boundary. The cloud API it calls is real.
type fakeNetworks struct {
	mu       sync.Mutex
	pending  []cloud.PendingNode
	attached map[string]time.Time
	start    time.Time
}

func newFakeNetworks(api *cloud.API, n int) *fakeNetworks {
	f := &fakeNetworks{attached: map[string]time.Time{}, start: time.Now()}
	for i, id := range api.Adopt("us1", n) {
		f.pending = append(f.pending, cloud.PendingNode{Name: "node-" + string(rune('a'+i)), InstanceID: id})
	}
	return f
}

func (f *fakeNetworks) Pending(context.Context) ([]cloud.PendingNode, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []cloud.PendingNode
	for _, p := range f.pending {
		if _, ok := f.attached[p.Name]; !ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func (f *fakeNetworks) Attach(_ context.Context, node string, enis []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(enis) != cloud.DefaultInterfacesPerNode {
		return nil // a short pass must never be attached; the test sees it missing
	}
	f.attached[node] = time.Now()
	return nil
}

func (f *fakeNetworks) done() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.attached)
}

// runOperator runs a network operator for n pending nodes against a real
// cloud API limited to 5 CreateNetworkInterface calls a second (burst 5),
// until every node has its interfaces or the time is up.
func runOperator(t *testing.T, retry cloud.RetryPolicy, n int, limit time.Duration) (*fakeNetworks, cloud.APIStats, time.Duration) {
	t.Helper()
	limits := cloud.Limits{CreateNetworkInterface: cloud.Rate{PerSecond: 5, Burst: 5}}
	api, url := startAPI(t, limits, nil)
	nodes := newFakeNetworks(api, n)
	op := &cloud.NetworkOperator{API: cloud.NewClient(url, "operator", nil), Nodes: nodes, Retry: retry, Resync: 50 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- op.Run(ctx) }()
	for ctx.Err() == nil && nodes.done() < n {
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("operator: %v", err)
	}
	return nodes, api.Stats()[cloud.APICreateNetworkInterface], took
}

// TestNetworkOperatorWithoutBackoffStalls replays the 2023 Cilium bug
// against the real emulated API: with a 10 ms retry, once two passes
// compete no pass gets three tokens in a row, and nearly every call is
// throttled. At most the pass that found the bucket full completes.
func TestNetworkOperatorWithoutBackoffStalls(t *testing.T) {
	nodes, stats, _ := runOperator(t, cloud.FixedRetry(10*time.Millisecond), 12, 5*time.Second)
	if got := nodes.done(); got > 1 {
		t.Errorf("%d of 12 nodes got their interfaces in 5 s with no backoff; want at most the 1 the initial burst allows", got)
	}
	if share := stats.ThrottledShare(); share <= 0.99 {
		t.Errorf("%.2f%% of %d CreateNetworkInterface calls throttled; want more than 99%%", 100*share, stats.Calls)
	}
	t.Logf("no backoff: %d of 12 nodes done, %d calls, %.2f%% throttled", nodes.done(), stats.Calls, 100*stats.ThrottledShare())
}

// TestNetworkOperatorWithBackoffRecovers: the same herd with exponential
// backoff completes every pass, close to the rate the limit allows.
func TestNetworkOperatorWithBackoffRecovers(t *testing.T) {
	const n = 12
	nodes, stats, took := runOperator(t, cloud.ExponentialRetry(100*time.Millisecond, 5*time.Second), n, 2*time.Minute)
	if got := nodes.done(); got != n {
		t.Fatalf("%d of %d nodes got their interfaces within 2 minutes with backoff", got, n)
	}
	if stats.OK < n*cloud.DefaultInterfacesPerNode {
		t.Errorf("%d interfaces created for %d nodes; want at least %d", stats.OK, n, n*cloud.DefaultInterfacesPerNode)
	}
	t.Logf("backoff: %d nodes in %s (the limit allows one every %s), %d calls, %.1f%% throttled",
		n, took.Round(time.Millisecond), time.Duration(cloud.DefaultInterfacesPerNode)*time.Second/5, stats.Calls, 100*stats.ThrottledShare())
}

func TestNetworkOperatorValidate(t *testing.T) {
	for name, op := range map[string]*cloud.NetworkOperator{
		"no API":            {Nodes: &fakeNetworks{}, Retry: cloud.FixedRetry(time.Millisecond)},
		"no retry interval": {API: cloud.NewClient("http://x", "", nil), Nodes: &fakeNetworks{}},
		"negative count":    {API: cloud.NewClient("http://x", "", nil), Nodes: &fakeNetworks{}, Retry: cloud.FixedRetry(time.Millisecond), InterfacesPerNode: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if err := op.Validate(); err == nil {
				t.Error("Validate accepted it")
			}
		})
	}
}
