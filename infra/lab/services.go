package lab

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/lab/internal/namespace"
	"github.com/aftershock-sre/aftershock/infra/nsnet"
	"github.com/aftershock-sre/aftershock/infra/service"
)

var _ infra.ServiceHost = (*Lab)(nil)

// firstServicePort is the port of the first service a lab runs; each further
// service gets the next one, so several can share a node.
const firstServicePort = 8080

// serviceState is one running service: what was asked and where each shard
// or replica runs, so that a reboot can start them again.
type serviceState struct {
	Spec      infra.ServiceSpec `json:"spec"`
	Port      int               `json:"port"`
	Instances []serviceInstance `json:"instances"`
}

type serviceInstance struct {
	Node   string         `json:"node"`
	Config service.Config `json:"config"`
}

// StartService runs spec on the lab: a shard on every node of each cluster,
// or a quorum of spec.Replicas replicas on the first nodes of each cluster.
// Each shard or replica is its own process in its node's namespace, bound to
// the node's address. It returns once every endpoint answers.
func (l *Lab) StartService(ctx context.Context, spec infra.ServiceSpec) ([]infra.Endpoint, error) {
	if len(l.opts.ServiceCommand) == 0 {
		path, err := FindService()
		if err != nil {
			return nil, err
		}
		l.opts.ServiceCommand = []string{path}
	}
	l.mu.Lock()
	svc := serviceState{Spec: spec, Port: firstServicePort + len(l.state.Services)}
	var endpoints []infra.Endpoint
	for _, cluster := range spec.Clusters {
		nodes := l.liveNodes(cluster)
		instances, err := serviceInstances(spec, svc.Port, nodes)
		if err != nil {
			l.mu.Unlock()
			return nil, fmt.Errorf("service %s on %s: %w", spec.Name, cluster, err)
		}
		svc.Instances = append(svc.Instances, instances...)
		for _, in := range instances {
			n, _ := l.state.node(in.Node)
			endpoints = append(endpoints, infra.Endpoint{Service: spec.Name, Node: n.Name, Cluster: n.Cluster,
				Region: n.Region, Address: in.Config.Addr()})
		}
	}
	l.state.Services = append(l.state.Services, svc)
	err := l.state.save()
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	for _, in := range svc.Instances {
		if err := l.startServiceInstance(in); err != nil {
			return nil, err
		}
	}
	if err := infra.WaitServing(ctx, l.ProbeDialer(), endpoints, 30*time.Second); err != nil {
		return nil, fmt.Errorf("service %s: %w", spec.Name, err)
	}
	return endpoints, nil
}

// serviceInstances lays a service out on a cluster's nodes.
func serviceInstances(spec infra.ServiceSpec, port int, nodes []nodeState) ([]serviceInstance, error) {
	hosts := make([]service.Host, len(nodes))
	for i, n := range nodes {
		hosts[i] = service.Host{Node: n.Name, Address: n.Address}
	}
	cfgs, err := service.Layout(spec.Name, service.Kind(spec.Kind), spec.Replicas, port, hosts)
	if err != nil {
		return nil, err
	}
	out := make([]serviceInstance, len(cfgs))
	for i, cfg := range cfgs {
		out[i] = serviceInstance{Node: cfg.Node, Config: cfg}
	}
	return out, nil
}

func (l *Lab) liveNodes(cluster string) []nodeState {
	var out []nodeState
	for _, n := range l.state.Nodes {
		if n.Cluster == cluster && !n.Terminated {
			out = append(out, n)
		}
	}
	return out
}

func (l *Lab) startServiceInstance(in serviceInstance) error {
	n, err := l.state.node(in.Node)
	if err != nil {
		return err
	}
	argv := append(append([]string{}, l.opts.ServiceCommand...), in.Config.Args()...)
	return l.startProcess(n.Namespace, "service-"+in.Config.Service, argv)
}

// restartServices starts again the shards and replicas a node runs, after a
// reboot, as a kubelet restarts its pods.
func (l *Lab) restartServices(node string) error {
	l.mu.Lock()
	var todo []serviceInstance
	for _, svc := range l.state.Services {
		for _, in := range svc.Instances {
			if in.Node == node {
				todo = append(todo, in)
			}
		}
	}
	l.mu.Unlock()
	for _, in := range todo {
		if err := l.startServiceInstance(in); err != nil {
			return err
		}
	}
	return nil
}

// ProbeDialer dials from the fabric namespace: outside every region, as a
// user of the service would.
func (l *Lab) ProbeDialer() func(ctx context.Context, network, address string) (net.Conn, error) {
	return nsnet.Dialer(namespace.Path(l.state.Fabric), net.Dialer{Timeout: time.Second})
}
