package kind

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/service"
)

var _ infra.ServiceHost = (*Fleet)(nil)

const (
	// firstServicePort is the port of the first service a fleet runs; each
	// further service takes the next one, on every node.
	firstServicePort = 8080
	// serviceBinaryInNode is where the service program is copied into a
	// node container.
	serviceBinaryInNode = "/usr/local/bin/aftershock-service"
)

// serviceInstance is one shard or replica, in the node container it runs in.
type serviceInstance struct {
	Node, Container string
	Config          service.Config
}

// StartService runs spec on the fleet as the lab does: a shard on every node
// of each cluster, or a quorum of replicas on its first nodes. Each instance
// is the aftershock-service program (Options.ServiceBinary), copied into its
// node container and started there, so it serves on the node's address and
// answers only through the node's routing. It returns once every instance
// answers the prober.
func (f *Fleet) StartService(ctx context.Context, spec infra.ServiceSpec) ([]infra.Endpoint, error) {
	if f.opts.ServiceBinary == "" {
		return nil, fmt.Errorf("service %s: no aftershock-service program to run (kind.Options.ServiceBinary; make build builds it)", spec.Name)
	}
	f.mu.Lock()
	port := firstServicePort + f.serviceCount
	f.serviceCount++
	var instances []serviceInstance
	var endpoints []infra.Endpoint
	for _, cluster := range spec.Clusters {
		cp := f.plan.cluster(cluster)
		if cp == nil {
			f.mu.Unlock()
			return nil, fmt.Errorf("service %s: unknown cluster %q", spec.Name, cluster)
		}
		var hosts []service.Host
		byNode := map[string]nodePlan{}
		for _, n := range cp.Nodes {
			c, ok := f.containers[n.Container]
			if n.Topo == nil || f.terminated[n.Container] || !ok || c.IP == "" {
				continue
			}
			hosts = append(hosts, service.Host{Node: n.Name, Address: c.IP})
			byNode[n.Name] = n
		}
		cfgs, err := service.Layout(spec.Name, service.Kind(spec.Kind), spec.Replicas, port, hosts)
		if err != nil {
			f.mu.Unlock()
			return nil, fmt.Errorf("service %s on %s: %w", spec.Name, cluster, err)
		}
		for _, cfg := range cfgs {
			n := byNode[cfg.Node]
			instances = append(instances, serviceInstance{Node: n.Name, Container: n.Container, Config: cfg})
			endpoints = append(endpoints, infra.Endpoint{Service: spec.Name, Node: n.Name, Cluster: cp.Name,
				Region: cp.Region, Address: cfg.Addr()})
		}
	}
	f.services = append(f.services, instances...)
	f.mu.Unlock()
	for _, in := range instances {
		if err := f.startServiceInstance(ctx, in); err != nil {
			return nil, err
		}
	}
	if err := infra.WaitServing(ctx, f.ProbeDialer(), endpoints, 30*time.Second); err != nil {
		return nil, fmt.Errorf("service %s: %w", spec.Name, err)
	}
	return endpoints, nil
}

// startServiceInstance copies the service program into the node container
// (a reboot keeps it: the container's filesystem survives a restart) and
// starts the instance there, detached.
func (f *Fleet) startServiceInstance(ctx context.Context, in serviceInstance) error {
	if _, err := f.docker.run(ctx, nil, "cp", f.opts.ServiceBinary, in.Container+":"+serviceBinaryInNode); err != nil {
		return fmt.Errorf("service %s on %s: %w", in.Config.Service, in.Node, err)
	}
	argv := append([]string{"exec", "--detach", in.Container, serviceBinaryInNode}, in.Config.Args()...)
	if _, err := f.docker.run(ctx, nil, argv...); err != nil {
		return fmt.Errorf("service %s on %s: %w", in.Config.Service, in.Node, err)
	}
	return nil
}

// restartServices starts again the instances a rebooted node runs, as its
// kubelet restarts its pods.
func (f *Fleet) restartServices(ctx context.Context, node string) error {
	f.mu.Lock()
	var todo []serviceInstance
	for _, in := range f.services {
		if in.Node == node {
			todo = append(todo, in)
		}
	}
	f.mu.Unlock()
	for _, in := range todo {
		if err := f.startServiceInstance(ctx, in); err != nil {
			return err
		}
	}
	return nil
}

// ProbeDialer dials from the host: outside every region, as a user of the
// service would, reaching nodes over their regions' Docker networks.
func (f *Fleet) ProbeDialer() func(ctx context.Context, network, address string) (net.Conn, error) {
	d := net.Dialer{Timeout: time.Second}
	return d.DialContext
}
