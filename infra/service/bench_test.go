package service

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkShardQuery measures how many queries per second one shard serves
// over loopback to clients that keep their connections alive.
func BenchmarkShardQuery(b *testing.B) {
	ln := listenLoopback(b, 1)[0]
	s := start(b, ln, validShardOn(ln))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	url := "http://" + s.cfg.Addr() + QueryPath
	var failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	begin := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
			if err != nil {
				failed.Add(1)
				continue
			}
			resp, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failed.Add(1)
			}
		}
	})
	elapsed := time.Since(begin)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d queries failed", n, b.N)
	}
	rps := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rps, "req/s")
	b.Logf("shard: %d req/s", int(rps))
}
