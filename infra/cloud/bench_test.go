package cloud_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/infra/cloud"
)

// BenchmarkAPIUnthrottled measures real HTTP calls to /CreateNetworkInterface
// over loopback, with no limits, from GOMAXPROCS×4 parallel keep-alive
// clients. It prints the rate of the final run once.
func BenchmarkAPIUnthrottled(b *testing.B) {
	const perProc = 4
	api, url := startAPI(b, cloud.Limits{}, nil)
	transport := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}
	b.Cleanup(transport.CloseIdleConnections)
	hc := &http.Client{Transport: transport}
	ctx := context.Background()
	ids, err := cloud.NewClient(url, "bench", hc).RunInstances(ctx, "us1", 1)
	if err != nil {
		b.Fatalf("RunInstances: %v", err)
	}

	clients := perProc * runtime.GOMAXPROCS(0)
	var perSecond float64 // of the last, longest run
	b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
		before := api.Stats()[cloud.APICreateNetworkInterface]
		b.SetParallelism(perProc)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			c := cloud.NewClient(url, "bench", hc)
			for pb.Next() {
				if _, err := c.CreateNetworkInterface(ctx, ids[0]); err != nil {
					b.Errorf("CreateNetworkInterface: %v", err)
					return
				}
			}
		})
		elapsed := time.Since(start)
		b.StopTimer()

		s := api.Stats()[cloud.APICreateNetworkInterface]
		if ok, throttled := s.OK-before.OK, s.Throttled-before.Throttled; ok != int64(b.N) || throttled != 0 {
			b.Fatalf("%d of %d calls ok, %d throttled; want all ok", ok, b.N, throttled)
		}
		perSecond = float64(b.N) / elapsed.Seconds()
		b.ReportMetric(perSecond, "calls/s")
	})
	fmt.Printf("cloud emulator: %d calls/s unthrottled (target >= 5000)\n", int(perSecond))
}
