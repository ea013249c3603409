package lab

import (
	"context"
	"fmt"
	"net"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func netDialer() net.Dialer {
	return net.Dialer{Timeout: 2 * time.Second, KeepAlive: 5 * time.Second}
}

// waitAPIServers waits until each cluster's API server answers /readyz.
func (l *Lab) waitAPIServers(ctx context.Context, clusters []*clusterState, report bool) error {
	ready := map[string]bool{}
	progress := func() {
		if report {
			l.opts.Progress(Progress{Phase: "control planes", Done: len(ready), Total: len(clusters)})
		}
	}
	progress()
	deadline := time.Now().Add(2 * time.Minute)
	for len(ready) < len(clusters) {
		for _, c := range clusters {
			if ready[c.Name] {
				continue
			}
			if err := l.probeReadyz(ctx, c.Name); err == nil {
				ready[c.Name] = true
				progress()
			} else if time.Now().After(deadline) {
				return fmt.Errorf("control plane of %s not ready after 2m: %w", c.Name, err)
			}
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// probeReadyz asks the cluster's API server whether it is ready.
func (l *Lab) probeReadyz(ctx context.Context, cluster string) error {
	client, err := l.client(cluster)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("readyz of %s: %w: %s", cluster, err, body)
	}
	return nil
}

// client returns the lab's cached clientset for the cluster. Caching matters:
// configs with a custom dialer get a transport of their own, so a fresh
// clientset per call would open a fresh connection each time.
func (l *Lab) client(cluster string) (kubernetes.Interface, error) {
	l.clientsMu.Lock()
	defer l.clientsMu.Unlock()
	if c, ok := l.clients[cluster]; ok {
		return c, nil
	}
	cfg, err := l.RESTConfig(cluster)
	if err != nil {
		return nil, err
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cluster, err)
	}
	if l.clients == nil {
		l.clients = map[string]kubernetes.Interface{}
	}
	l.clients[cluster] = c
	return c, nil
}

// NodeStatus is one node as its cluster's API server sees it.
type NodeStatus struct {
	Name, Region, Cluster, Role, Address string
	// Ready is the status of the Ready condition: True, False, Unknown, or
	// "" when the API server has no Node object or cannot be reached.
	Ready string
	// Terminated is set for nodes whose instance was terminated.
	Terminated bool
}

// ClusterStatus is one cluster with its control plane's reachability.
type ClusterStatus struct {
	Name, Region, HostNode, Endpoint string
	// Reachable is whether the API server answered; Err says why not.
	Reachable bool
	Err       string
	Nodes     []NodeStatus
}

// Status reads every cluster's Node objects through its API server.
func (l *Lab) Status(ctx context.Context) []ClusterStatus {
	l.mu.Lock()
	nodes := append([]nodeState(nil), l.state.Nodes...)
	clusters := append([]clusterState(nil), l.state.Clusters...)
	l.mu.Unlock()
	out := make([]ClusterStatus, len(clusters))
	for i, c := range clusters {
		cs := ClusterStatus{Name: c.Name, Region: c.Region, HostNode: c.HostNode, Endpoint: apiURL(c.Address, c.APIPort)}
		ready, err := l.readiness(ctx, c.Name)
		cs.Reachable = err == nil
		if err != nil {
			cs.Err = err.Error()
		}
		for _, n := range nodes {
			if n.Cluster != c.Name {
				continue
			}
			cs.Nodes = append(cs.Nodes, NodeStatus{
				Name: n.Name, Region: n.Region, Cluster: n.Cluster, Role: string(n.Role),
				Address: n.Address, Ready: ready[n.Name], Terminated: n.Terminated,
			})
		}
		out[i] = cs
	}
	return out
}

// readiness maps node name to its Ready condition status in the cluster.
func (l *Lab) readiness(ctx context.Context, cluster string) (map[string]string, error) {
	client, err := l.client(cluster)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes of %s: %w", cluster, err)
	}
	ready := map[string]string{}
	for _, n := range list.Items {
		ready[n.Name] = string(corev1.ConditionUnknown)
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				ready[n.Name] = string(c.Status)
			}
		}
	}
	return ready, nil
}

// WaitReady waits until every live node is Ready in its cluster's API server.
func (l *Lab) WaitReady(ctx context.Context) error {
	total := len(l.Nodes())
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var notReady []string
		for _, c := range l.Status(ctx) {
			for _, n := range c.Nodes {
				if !n.Terminated && n.Ready != string(corev1.ConditionTrue) {
					notReady = append(notReady, n.Name)
				}
			}
		}
		l.opts.Progress(Progress{Phase: "nodes Ready", Done: total - len(notReady), Total: total})
		if len(notReady) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			sort.Strings(notReady)
			return fmt.Errorf("nodes not Ready after 3m: %v", notReady)
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
