package scenario

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/experiments/probe"
	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// BenchmarkProberThroughput probes a sharded service on the tiny lab from
// the fabric at rising rates, over real sockets through the nodes' routing,
// and reports the requests per second it achieved and the CPU this process
// used meanwhile (the prober, and the lab's own watchers, which are idle).
func BenchmarkProberThroughput(b *testing.B) {
	provider := labProvider(b)
	topo, err := topology.Preset("tiny")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s := New(experiments.RealClock{}, filepath.Join(b.TempDir(), "journal.jsonl"))
	if err := s.Provision(ctx, provider, topo); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Teardown(context.Background()) }()
	if err := s.WaitAllReady(ctx, 2*time.Minute); err != nil {
		b.Fatal(err)
	}
	host := s.Fleet.(infra.ServiceHost)
	endpoints, err := host.StartService(ctx, infra.ServiceSpec{Name: "metrics-intake", Kind: "sharded", Clusters: []string{"eu1-app1"}})
	if err != nil {
		b.Fatal(err)
	}
	const window = 5 * time.Second
	for range b.N {
		for _, rate := range []int{200, 400, 800} {
			tl := experiments.NewTimeline(experiments.RealClock{})
			p := &probe.HTTPService{Service: "metrics-intake", Endpoints: endpoints, Dial: host.ProbeDialer(),
				Rate: float64(rate), Timeout: 500 * time.Millisecond, Path: "/query", Timeline: tl}
			pctx, cancel := context.WithTimeout(ctx, window)
			before, start := cpuTime(), time.Now()
			_ = p.Run(pctx)
			cancel()
			elapsed, used := time.Since(start), cpuTime()-before
			ok, total := 0, 0
			for _, e := range tl.Events() {
				if e.Kind == experiments.KindRequest {
					total++
					if e.Status == experiments.OK {
						ok++
					}
				}
			}
			achieved := float64(total) / elapsed.Seconds()
			cores := used.Seconds() / elapsed.Seconds()
			fmt.Printf("prober at %d req/s: %.0f req/s achieved (%.1f%% ok) on %.2f cores (target >= 200 req/s on <= 1 core: %.2fx of the rate, %.2fx of the CPU budget)\n",
				rate, achieved, 100*float64(ok)/float64(max(total, 1)), cores, achieved/200, cores)
			b.ReportMetric(achieved, fmt.Sprintf("req/s@%d", rate))
		}
	}
}

// cpuTime is the CPU time this process has used, user plus system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
