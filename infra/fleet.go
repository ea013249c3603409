package infra

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"k8s.io/client-go/rest"

	"github.com/aftershock-sre/aftershock/infra/service"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// Node is one node of a running fleet.
type Node struct {
	topology.Node
	// Address is the node's primary IPv4 address.
	Address string
	// NetNSPath is the node's network namespace (e.g. /run/netns/as-x-n0),
	// where faults are injected through netlink. Empty where the provider only
	// offers an exec channel.
	NetNSPath string
}

// Fleet is a running set of clusters that an experiment can observe and act on.
type Fleet interface {
	// Topology is the shape the fleet was built from.
	Topology() topology.Topology
	// Nodes lists the fleet's current nodes.
	Nodes() []Node
	// RESTConfig returns a client configuration that reaches the named
	// cluster's API server from this process.
	RESTConfig(cluster string) (*rest.Config, error)
	// Reboot restarts a node in place: it keeps its identity and data, and its
	// network comes back in boot order.
	Reboot(ctx context.Context, node string) error
	// Terminate destroys a node's instance.
	Terminate(ctx context.Context, node string) error
	// Down tears the whole fleet down. It is idempotent.
	Down(ctx context.Context) error
}

// ServiceSpec asks a fleet to run a degraded-mode service on some clusters.
type ServiceSpec struct {
	// Name is the service's name, e.g. "metrics-intake".
	Name string
	// Kind is "sharded" (one shard per node) or "quorum" (Replicas replicas
	// per cluster, serving only while a majority can reach each other).
	Kind     string
	Replicas int
	// Clusters are where it runs.
	Clusters []string
}

// Endpoint is one shard or replica of a running service.
type Endpoint struct {
	Service, Node, Cluster, Region string
	// Address is host:port, reachable through the fleet's probe dialer.
	Address string
}

// ServiceHost is a fleet that can run degraded-mode services on its nodes
// and lets a prober reach them from outside the regions.
type ServiceHost interface {
	StartService(ctx context.Context, spec ServiceSpec) ([]Endpoint, error)
	// ProbeDialer dials from outside every region, through the fabric.
	ProbeDialer() func(ctx context.Context, network, address string) (net.Conn, error)
}

// WaitServing waits until every endpoint answers its service query with 200
// through dial, or fails naming the first that does not within timeout.
func WaitServing(ctx context.Context, dial func(ctx context.Context, network, address string) (net.Conn, error),
	endpoints []Endpoint, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	for _, e := range endpoints {
		for {
			err := service.Query(ctx, client, "http://"+e.Address+service.QueryPath)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s on %s does not answer after %s: %w", e.Service, e.Node, timeout, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}
