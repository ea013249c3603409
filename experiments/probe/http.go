package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/service"
)

// HTTPService sends real requests to every shard or replica of one service,
// round-robin, at a steady rate, from outside the regions, and appends one
// KindRequest event per request.
type HTTPService struct {
	Service   string
	Endpoints []infra.Endpoint
	// Dial opens connections from where users stand (the lab's fabric).
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Rate is requests per second across all endpoints.
	Rate float64
	// Timeout bounds each request: no answer in time is a failure.
	Timeout  time.Duration
	Path     string
	Timeline *experiments.Timeline
}

// Run probes until ctx ends.
func (p *HTTPService) Run(ctx context.Context) error {
	if p.Rate <= 0 || len(p.Endpoints) == 0 {
		return fmt.Errorf("probe %s: want a positive rate and at least one endpoint", p.Service)
	}
	client := &http.Client{
		Timeout: p.Timeout,
		Transport: &http.Transport{
			DialContext:         p.Dial,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	defer client.CloseIdleConnections()
	ticker := time.NewTicker(time.Duration(float64(time.Second) / p.Rate))
	defer ticker.Stop()
	for i := 0; ; i++ {
		e := p.Endpoints[i%len(p.Endpoints)]
		go p.request(ctx, client, e)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

func (p *HTTPService) request(ctx context.Context, client *http.Client, e infra.Endpoint) {
	start := time.Now()
	err := service.Query(ctx, client, "http://"+e.Address+p.Path)
	if ctx.Err() != nil {
		return // the probe is stopping: not the service's failure
	}
	event := experiments.Event{
		Kind: experiments.KindRequest, Name: p.Service, Status: experiments.OK,
		Node: e.Node, Cluster: e.Cluster, Region: e.Region,
		Detail: map[string]string{"latency": time.Since(start).Round(time.Microsecond).String()},
	}
	if err != nil {
		event.Status = experiments.Failed
		event.Detail["error"] = err.Error()
	}
	p.Timeline.Append(event)
}
