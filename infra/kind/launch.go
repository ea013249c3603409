package kind

import (
	"context"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/aftershock-sre/aftershock/infra/nsnet"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// launchedName is a launched node's container: <kind cluster>-i<k>, where k
// is its index in the cluster's plan.
func launchedName(kindCluster string, k int) string { return fmt.Sprintf("%s-i%d", kindCluster, k) }

// launchRunArgs starts a worker node container the way kind starts its own
// (sigs.k8s.io/kind's docker provider), labelled with the kind cluster so
// that deleting the cluster deletes it too.
func launchRunArgs(container, kindCluster, network, image string) []string {
	return []string{"run", "--name", container, "--hostname", container,
		"--label", kindClusterLabel + "=" + kindCluster,
		"--label", "io.x-k8s.kind.role=" + string(v1alpha4.WorkerRole),
		"--privileged", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
		"--tmpfs", "/tmp", "--tmpfs", "/run", "--volume", "/var", "--volume", "/lib/modules:/lib/modules:ro",
		"-e", "KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER",
		"--detach", "--tty", "--net", network, "--restart=on-failure:1", "--init=false", "--cgroupns=private",
		image}
}

// ec2Name is how EC2 names an instance after its address: ip-172-18-0-9.
func ec2Name(ip string) string { return "ip-" + strings.ReplaceAll(ip, ".", "-") }

// launch starts a new worker container for the cluster, adds it to the
// fleet under its EC2-style name, and returns the name once it has booted.
// It is not in the cluster yet: join does that.
func (f *Fleet) launch(ctx context.Context, cluster string) (string, error) {
	cp := f.plan.cluster(cluster)
	if cp == nil {
		return "", fmt.Errorf("launch: unknown cluster %q", cluster)
	}
	f.mu.Lock()
	tmpl, ok := f.joinTemplates[cluster]
	k := len(cp.Nodes)
	if !ok || k >= maxNodesPerCluster {
		f.mu.Unlock()
		if !ok {
			return "", fmt.Errorf("launch into %s: the cluster has no worker whose configuration a new node could join with", cluster)
		}
		return "", fmt.Errorf("launch into %s: a kind cluster holds at most %d nodes (pod ranges of %s)", cluster, maxNodesPerCluster, PodSubnet)
	}
	container := launchedName(cp.KindName, k)
	// The plan grows by copy, so readers holding the old slice are
	// unaffected; the node counts as not running until docker run succeeds.
	cp.Nodes = append(slices.Clip(cp.Nodes), nodePlan{Container: container, Cluster: cp.Name,
		KindRole: v1alpha4.WorkerRole, PodCIDR: podCIDR(k), Labels: maps.Clone(tmpl.Labels)})
	f.terminated[container] = true
	f.mu.Unlock()

	d := f.docker
	if f.shimDir != "" {
		d = &docker{path: filepath.Join(f.shimDir, "docker")}
	}
	if _, err := d.run(ctx, nil, launchRunArgs(container, cp.KindName, cp.Network, f.opts.NodeImage)...); err != nil {
		return "", fmt.Errorf("launch into %s: %w", cluster, err)
	}
	f.mu.Lock()
	delete(f.terminated, container)
	f.mu.Unlock()
	cs, err := f.docker.inspect(ctx, cp.Network, container)
	if err != nil || len(cs) != 1 || cs[0].IP == "" {
		return "", fmt.Errorf("launch into %s: no address for %s (%v)", cluster, container, err)
	}
	name := ec2Name(cs[0].IP)
	var role topology.ClusterRole
	var cl topology.Cloud
	for _, rc := range f.plan.Topology.Clusters() {
		if rc.Cluster.Name == cluster {
			role, cl = rc.Cluster.Role, rc.Region.Cloud
		}
	}
	f.mu.Lock()
	for i := range cp.Nodes {
		if cp.Nodes[i].Container == container {
			cp.Nodes[i].Name = name
			cp.Nodes[i].Topo = &topology.Node{Name: name, Region: cp.Region, Cloud: cl, Cluster: cluster,
				ClusterRole: role, Role: topology.Worker}
		}
	}
	err = f.refreshLocked(ctx)
	f.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("launch %s: %w", name, err)
	}
	_, np := f.plan.node(name)
	if err := f.waitBooted(ctx, cp, np, f.opts.WaitForReady); err != nil {
		return "", fmt.Errorf("launch %s: %w", name, err)
	}
	return name, nil
}

// join brings a launched node into its cluster, as the node itself would on
// first boot: it logs in to the issuer (Unregistered until then), then joins
// with the same kubeadm configuration as its cluster's workers, under its
// own name, address and provider ID, and (for a child) points its kubelet at
// the relay. Its network stays unconfigured, so it registers NotReady, until
// the network operator attaches its interfaces.
func (f *Fleet) join(ctx context.Context, node, instanceID, issuerURL string) error {
	cp, n := f.plan.node(node)
	if n == nil {
		return fmt.Errorf("join: unknown node %q", node)
	}
	if err := f.login(ctx, node, instanceID, issuerURL); err != nil {
		return fmt.Errorf("join %s: login: %w", node, err)
	}
	f.mu.Lock()
	tmpl := f.joinTemplates[cp.Name]
	addr := f.containers[n.Container].IP
	f.mu.Unlock()
	joinConf, err := launchedKubeadmConfig(tmpl.Config, tmpl.Name, tmpl.IP, node, addr, providerID(cp.Region, instanceID))
	if err != nil {
		return fmt.Errorf("join %s: %w", node, err)
	}
	if err := f.docker.writeFile(ctx, n.Container, "/kind/kubeadm.conf", joinConf); err != nil {
		return fmt.Errorf("join %s: %w", node, err)
	}
	if _, err := f.docker.exec(ctx, n.Container, nil, "kubeadm", "join", "--config", "/kind/kubeadm.conf", "--skip-phases=preflight"); err != nil {
		return fmt.Errorf("join %s: kubeadm join: %w", node, err)
	}
	if cp.Host != nil {
		script := kubeletThroughRelayScript(relayEndpoint(cp.Host.Container, cp.RelayPort))
		if _, err := f.docker.exec(ctx, n.Container, nil, "sh", "-c", script); err != nil {
			return fmt.Errorf("join %s: kubelet through %s: %w", node, cp.Host.Name, err)
		}
	}
	f.log.Info("launched node joined", "node", node, "cluster", cp.Name)
	return nil
}

// providerIDLineRE is kind's provider-id kubelet argument in a kubeadm
// configuration.
var providerIDLineRE = regexp.MustCompile(`(?m)^(\s*value:\s*)kind://docker/\S+$`)

// joinTemplate is what a launched node joins its cluster with: the kubeadm
// configuration kind gave one of the cluster's workers, read when the cloud
// starts (that worker may be the one replaced).
type joinTemplate struct {
	Config   string
	Name, IP string
	Labels   map[string]string
}

// readJoinTemplates reads, for every cluster of the region, a worker's
// kubeadm configuration.
func (f *Fleet) readJoinTemplates(ctx context.Context, region string) error {
	for i := range f.plan.Clusters {
		cp := &f.plan.Clusters[i]
		if cp.Region != region {
			continue
		}
		f.mu.Lock()
		var worker *nodePlan
		for k := range cp.Nodes {
			if n := &cp.Nodes[k]; n.KindRole == v1alpha4.WorkerRole && n.Topo != nil && !f.terminated[n.Container] {
				worker = n
				break
			}
		}
		var ip string
		if worker != nil {
			ip = f.containers[worker.Container].IP
		}
		f.mu.Unlock()
		if worker == nil {
			continue // a cluster of control planes only: nothing to launch into
		}
		conf, err := f.docker.exec(ctx, worker.Container, nil, "cat", "/kind/kubeadm.conf")
		if err != nil {
			return fmt.Errorf("read %s's kubeadm configuration: %w", worker.Name, err)
		}
		f.mu.Lock()
		f.joinTemplates[cp.Name] = joinTemplate{Config: string(conf), Name: worker.Name, IP: ip, Labels: maps.Clone(worker.Labels)}
		f.mu.Unlock()
	}
	return nil
}

// launchedKubeadmConfig rewrites a worker's kubeadm configuration for a new
// node: its name, its address and its provider ID.
func launchedKubeadmConfig(conf, oldName, oldIP, name, ip, providerID string) (string, error) {
	if !strings.Contains(conf, "kind: JoinConfiguration") || !providerIDLineRE.MatchString(conf) {
		return "", fmt.Errorf("%s's kubeadm configuration has no JoinConfiguration with kind's provider-id", oldName)
	}
	conf = providerIDLineRE.ReplaceAllString(conf, "${1}"+providerID)
	conf = strings.ReplaceAll(conf, "name: "+oldName+"\n", "name: "+name+"\n")
	// The whole address only: 172.18.0.6 must not rewrite 172.18.0.60.
	conf = regexp.MustCompile(`\b`+regexp.QuoteMeta(oldIP)+`\b`).ReplaceAllLiteralString(conf, ip)
	return conf, nil
}

// attachNetwork gives a launched node its CNI configuration and policy
// routing, and its cluster's nodes a route to its pods.
func (f *Fleet) attachNetwork(ctx context.Context, node string) error {
	cp, n := f.plan.node(node)
	if n == nil {
		return fmt.Errorf("attach network: unknown node %q", node)
	}
	conf, err := cniConfig(n.PodCIDR)
	if err != nil {
		return err
	}
	if err := f.docker.writeFile(ctx, n.Container, CNIConfigPath, conf); err != nil {
		return fmt.Errorf("attach network to %s: %w", node, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for k := range cp.Nodes {
		peer := &cp.Nodes[k]
		if f.terminated[peer.Container] || f.containers[peer.Container].PID == 0 {
			continue
		}
		if err := f.policyRouteLocked(ctx, cp, peer); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("attach network to %s: %v", node, errs)
	}
	return nil
}

// dialFrom dials from inside the node's network namespace, through its own
// routing.
func (f *Fleet) dialFrom(node string) nsnet.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		pid, err := f.PID(ctx, node)
		if err != nil {
			return nil, err
		}
		return nsnet.Dialer(fmt.Sprintf("/proc/%d/ns/net", pid), net.Dialer{Timeout: 2 * time.Second})(ctx, network, addr)
	}
}
