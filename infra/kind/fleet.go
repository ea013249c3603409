package kind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// Fleet is a running set of kind clusters. It implements infra.Fleet.
type Fleet struct {
	opts   Options
	log    *slog.Logger
	docker *docker
	kind   *cluster.Provider
	plan   *plan
	dir    string

	cgroupV1 bool
	shimDir  string

	mu         sync.Mutex // guards the fields below, and the plan's node lists
	containers map[string]container
	pids       map[string]int // container -> PID the netns path names
	terminated map[string]bool
	// clouds are the aws regions' emulated clouds (StartCloud).
	clouds []*regionCloud
	// joinTemplates hold, per cluster, what launched nodes join with.
	joinTemplates map[string]joinTemplate
	// services are the shards and replicas running on the nodes; each
	// service has its own port.
	services     []serviceInstance
	serviceCount int
}

var _ infra.Fleet = (*Fleet)(nil)

// RunID identifies the fleet's run.
func (f *Fleet) RunID() string { return f.plan.RunID }

// Dir is the run's state folder (kubeconfigs, the docker wrapper), under
// the state root; runs journal it so that cleanup finds the run.
func (f *Fleet) Dir() string { return f.dir }

// Topology is the shape the fleet was built from, with defaults applied.
func (f *Fleet) Topology() topology.Topology { return f.plan.Topology }

// KindClusters lists the kind cluster names of the fleet.
func (f *Fleet) KindClusters() []string {
	out := make([]string, len(f.plan.Clusters))
	for i, c := range f.plan.Clusters {
		out[i] = c.KindName
	}
	return out
}

// Kubeconfig is the path of the cluster's kubeconfig, as kind wrote it
// (its server is the API server's port published on the host). For a child
// cluster RESTConfig goes through the relay instead.
func (f *Fleet) Kubeconfig(cluster string) (string, error) {
	if f.plan.cluster(cluster) == nil {
		return "", fmt.Errorf("unknown cluster %q", cluster)
	}
	return filepath.Join(f.dir, cluster+".kubeconfig"), nil
}

// Container is the node container of a topology node.
func (f *Fleet) Container(node string) (string, error) {
	_, n := f.plan.node(node)
	if n == nil {
		return "", fmt.Errorf("unknown node %q", node)
	}
	return n.Container, nil
}

// build creates everything, in order.
func (f *Fleet) build(ctx context.Context) error {
	start := time.Now()
	if err := f.checkEngine(ctx); err != nil {
		return err
	}
	if err := f.ensureNetworks(ctx); err != nil {
		return err
	}
	// Parents first: a child's relay needs its host.
	order := slices.Clone(f.plan.Clusters)
	slices.SortStableFunc(order, func(a, b clusterPlan) int {
		return boolInt(a.Role == topology.Child) - boolInt(b.Role == topology.Child)
	})
	for i := range order {
		cp := f.plan.cluster(order[i].Name)
		f.opts.Progress(Progress{Phase: "create", Cluster: cp.Name, Done: i, Total: len(order), Elapsed: time.Since(start)})
		t0 := time.Now()
		if err := f.createCluster(ctx, cp); err != nil {
			return err
		}
		f.log.Info("kind cluster ready", "cluster", cp.Name, "kind", cp.KindName, "took", time.Since(t0).Round(time.Second))
	}
	f.opts.Progress(Progress{Phase: "create", Done: len(order), Total: len(order), Elapsed: time.Since(start)})
	if err := f.refresh(ctx); err != nil {
		return err
	}
	f.opts.Progress(Progress{Phase: "network", Elapsed: time.Since(start)})
	if err := f.policyRouteAll(ctx); err != nil {
		return err
	}
	if err := f.installRelays(ctx, ""); err != nil {
		return err
	}
	if err := f.kubeletsThroughRelays(ctx); err != nil {
		return err
	}
	f.opts.Progress(Progress{Phase: "ready", Elapsed: time.Since(start)})
	return f.WaitReady(ctx, f.opts.WaitForReady)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkEngine learns the engine's cgroup version and whether it grants
// --privileged; where it does not, kind's docker calls go through the shim.
func (f *Fleet) checkEngine(ctx context.Context) error {
	out, err := f.docker.run(ctx, nil, "info", "--format", "{{.CgroupVersion}}")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	f.cgroupV1 = strings.TrimSpace(string(out)) == "1"
	_, err = f.docker.run(ctx, nil, "run", "--rm", "--privileged", "--entrypoint", "/bin/true", f.opts.NodeImage)
	if err == nil {
		return nil
	}
	shim, werr := writeDockerShim(filepath.Join(f.dir, "bin"))
	if werr != nil {
		return fmt.Errorf("this Docker engine refuses --privileged containers, which kind needs (%v), "+
			"and the docker wrapper that works around it could not be written: %w", err, werr)
	}
	f.log.Info("engine refuses --privileged: kind's docker calls go through the wrapper (see docs/kind.md)", "dir", shim)
	f.shimDir = shim
	return nil
}

// ensureNetworks creates each region's network; an existing network of the
// same name must carry this run's label.
func (f *Fleet) ensureNetworks(ctx context.Context) error {
	for _, r := range f.plan.Regions {
		out, err := f.docker.run(ctx, nil, "network", "inspect", "--format",
			"{{index .Labels \""+LabelRun+"\"}}", r.Network)
		if err == nil {
			if got := strings.TrimSpace(string(out)); got != f.plan.RunID {
				return fmt.Errorf("docker network %s exists and is not this run's (label %s=%q)", r.Network, LabelRun, got)
			}
			continue
		}
		if _, err := f.docker.run(ctx, nil, networkCreateArgs(r.Network, f.plan.RunID)...); err != nil {
			return fmt.Errorf("create network for region %s: %w", r.Name, err)
		}
	}
	return nil
}

// createCluster runs kind's Create for one cluster while the CNI agent
// configures each node as soon as it boots.
func (f *Fleet) createCluster(ctx context.Context, cp *clusterPlan) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg := cp.kindConfig(ConfigOptions{NodeImage: f.opts.NodeImage, CgroupV1: f.cgroupV1, Timing: TimingFor(f.plan.Topology.Timing)})
	agentCtx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- f.cniAgent(agentCtx, cp) }()

	createMu.Lock()
	restore := setEnv(map[string]string{
		"KIND_EXPERIMENTAL_DOCKER_NETWORK": cp.Network,
		"PATH":                             pathWith(f.shimDir),
	})
	err := f.kind.Create(cp.KindName,
		cluster.CreateWithV1Alpha4Config(cfg),
		cluster.CreateWithWaitForReady(f.opts.WaitForReady),
		cluster.CreateWithKubeconfigPath(filepath.Join(f.dir, cp.Name+".kubeconfig")),
		cluster.CreateWithRetain(f.opts.Retain),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
	)
	restore()
	createMu.Unlock()

	stopAgent()
	agentErr := <-agentDone
	if err != nil {
		return fmt.Errorf("kind create %s (cluster %s): %w", cp.KindName, cp.Name, err)
	}
	if agentErr != nil {
		return fmt.Errorf("CNI on cluster %s: %w", cp.Name, agentErr)
	}
	return nil
}

// setEnv sets variables and returns a function that restores them.
func setEnv(vars map[string]string) func() {
	old := map[string]*string{}
	for k, v := range vars {
		if prev, ok := os.LookupEnv(k); ok {
			old[k] = &prev
		} else {
			old[k] = nil
		}
		_ = os.Setenv(k, v)
	}
	return func() {
		for k, v := range old {
			if v == nil {
				_ = os.Unsetenv(k)
			} else {
				_ = os.Setenv(k, *v)
			}
		}
	}
}

// pathWith is PATH with dir first, or PATH itself.
func pathWith(dir string) string {
	path := os.Getenv("PATH")
	if dir == "" {
		return path
	}
	return dir + string(os.PathListSeparator) + path
}

// bootedRE is what kind itself waits for in a node's log before it execs
// into it (exec'ing earlier can break cgroup v2 setup).
var bootedRE = regexp.MustCompile(`Reached target .*Multi-User System|detected cgroup v1`)

// cniAgent writes each node's CNI configuration as soon as the node has
// booted, until every node of the cluster has one or ctx ends; then it
// makes one last pass and reports any node it could not configure.
func (f *Fleet) cniAgent(ctx context.Context, cp *clusterPlan) error {
	done := map[string]bool{}
	var lastErr = map[string]error{}
	pass := func(ctx context.Context) {
		for _, n := range cp.Nodes {
			if done[n.Container] {
				continue
			}
			logs, err := f.docker.run(ctx, nil, "logs", n.Container)
			if err != nil || !bootedRE.Match(logs) {
				lastErr[n.Container] = fmt.Errorf("node %s has not booted yet", n.Name)
				continue
			}
			conf, err := cniConfig(n.PodCIDR)
			if err == nil {
				err = f.docker.writeFile(ctx, n.Container, CNIConfigPath, conf)
			}
			if err != nil {
				lastErr[n.Container] = err
				continue
			}
			done[n.Container] = true
			delete(lastErr, n.Container)
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for len(done) < len(cp.Nodes) {
		pass(ctx)
		select {
		case <-ctx.Done():
			if len(done) < len(cp.Nodes) {
				final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				pass(final)
				cancel()
			}
			var errs []error
			for _, n := range cp.Nodes {
				if e := lastErr[n.Container]; e != nil && !done[n.Container] {
					errs = append(errs, fmt.Errorf("%s: %w", n.Name, e))
				}
			}
			return errors.Join(errs...)
		case <-tick.C:
		}
	}
	return nil
}

// multiUserRE is systemd's line once a node has booted.
var multiUserRE = regexp.MustCompile(`Reached target .*Multi-User System`)

// waitBooted waits until the node container's current run has reached
// systemd's multi-user target.
func (f *Fleet) waitBooted(ctx context.Context, cp *clusterPlan, n *nodePlan, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		cs, err := f.docker.inspect(ctx, cp.Network, n.Container)
		if err == nil && len(cs) == 1 && cs[0].Running && cs[0].StartedAt != "" {
			logs, lerr := f.docker.run(ctx, nil, "logs", "--since", cs[0].StartedAt, n.Container)
			if lerr == nil && multiUserRE.Match(logs) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s did not boot: %w", n.Name, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// refresh re-reads every live node container.
func (f *Fleet) refresh(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshLocked(ctx)
}

func (f *Fleet) refreshLocked(ctx context.Context) error {
	byNetwork := map[string][]string{}
	for _, cp := range f.plan.Clusters {
		for _, n := range cp.Nodes {
			if !f.terminated[n.Container] {
				byNetwork[cp.Network] = append(byNetwork[cp.Network], n.Container)
			}
		}
	}
	next := map[string]container{}
	for network, names := range byNetwork {
		cs, err := f.docker.inspect(ctx, network, names...)
		if err != nil {
			return fmt.Errorf("inspect node containers: %w", err)
		}
		for _, c := range cs {
			next[c.Name] = c
		}
	}
	f.containers = next
	for name, c := range next {
		f.pids[name] = c.PID
	}
	return nil
}

// nodeNetFor computes a node's addressing from the inspected containers.
func (f *Fleet) nodeNetFor(cp *clusterPlan, n *nodePlan) (nodeNet, error) {
	proto, err := f.plan.Topology.CNI.RuleProtocol.Number()
	if err != nil {
		return nodeNet{}, err
	}
	c, ok := f.containers[n.Container]
	if !ok || c.IP == "" {
		return nodeNet{}, fmt.Errorf("node %s: container %s has no address on %s", n.Name, n.Container, cp.Network)
	}
	self := net.ParseIP(c.IP).To4()
	_, subnet, err := net.ParseCIDR(fmt.Sprintf("%s/%d", c.IP, c.PrefixLen))
	if err != nil {
		return nodeNet{}, fmt.Errorf("node %s: %w", n.Name, err)
	}
	_, pods, err := net.ParseCIDR(n.PodCIDR)
	if err != nil {
		return nodeNet{}, fmt.Errorf("node %s: %w", n.Name, err)
	}
	nn := nodeNet{Self: self, Subnet: subnet, Gateway: net.ParseIP(c.Gateway), PodCIDR: pods,
		Table: f.plan.Topology.CNI.RouteTable, Proto: proto}
	for _, p := range cp.Nodes {
		pc, ok := f.containers[p.Container]
		if p.Container == n.Container || !ok || pc.IP == "" {
			continue
		}
		_, pp, err := net.ParseCIDR(p.PodCIDR)
		if err != nil {
			return nodeNet{}, err
		}
		nn.Peers = append(nn.Peers, peer{IP: net.ParseIP(pc.IP), PodCIDR: pp})
	}
	return nn, nil
}

// policyRouteAll puts every live node on policy routing.
func (f *Fleet) policyRouteAll(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for i := range f.plan.Clusters {
		cp := &f.plan.Clusters[i]
		for k := range cp.Nodes {
			if f.terminated[cp.Nodes[k].Container] {
				continue
			}
			if err := f.policyRouteLocked(ctx, cp, &cp.Nodes[k]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (f *Fleet) policyRouteLocked(ctx context.Context, cp *clusterPlan, n *nodePlan) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	nn, err := f.nodeNetFor(cp, n)
	if err != nil {
		return err
	}
	h, closeH, err := f.netlinkLocked(n.Container)
	if err != nil {
		return fmt.Errorf("policy routing on %s: %w", n.Name, err)
	}
	defer closeH()
	if err := policyRoute(h, nn); err != nil {
		return fmt.Errorf("policy routing on %s: %w", n.Name, err)
	}
	return nil
}

// installRelays (re)installs the relay of every child control plane hosted
// on node, or on every hosting node when node is "".
func (f *Fleet) installRelays(ctx context.Context, node string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	hosts := map[string][]relay{}
	var order []*nodePlan
	for _, cp := range f.plan.Clusters {
		if cp.Host == nil || (node != "" && cp.Host.Name != node) || f.terminated[cp.Host.Container] {
			continue
		}
		c, ok := f.containers[cp.Nodes[0].Container]
		if !ok || c.IP == "" {
			return fmt.Errorf("relay for %s: its control plane %s has no address", cp.Name, cp.Nodes[0].Container)
		}
		if _, seen := hosts[cp.Host.Container]; !seen {
			order = append(order, cp.Host)
		}
		hosts[cp.Host.Container] = append(hosts[cp.Host.Container], relay{Child: cp.Name, Port: cp.RelayPort, To: c.IP})
	}
	var errs []error
	for _, h := range order {
		script, err := relayScript(hosts[h.Container])
		if err == nil {
			_, err = f.docker.exec(ctx, h.Container, nil, "sh", "-c", script)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("relay on %s: %w", h.Name, err))
		}
	}
	return errors.Join(errs...)
}

// kubeletsThroughRelays points every kubelet of every child cluster at its
// API server through the hosting parent node.
func (f *Fleet) kubeletsThroughRelays(ctx context.Context) error {
	var errs []error
	for _, cp := range f.plan.Clusters {
		if cp.Host == nil {
			continue
		}
		script := kubeletThroughRelayScript(relayEndpoint(cp.Host.Container, cp.RelayPort))
		for _, n := range cp.Nodes {
			if _, err := f.docker.exec(ctx, n.Container, nil, "sh", "-c", script); err != nil {
				errs = append(errs, fmt.Errorf("kubelet of %s through %s: %w", n.Name, cp.Host.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Nodes lists the fleet's topology nodes that have not been terminated,
// with their address and network namespace path (/proc/<pid>/ns/net of the
// node container). A child's hosted control plane is not a topology node.
func (f *Fleet) Nodes() []infra.Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stalePIDsLocked() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if err := f.refreshLocked(ctx); err != nil {
			f.log.Warn("refresh node containers", "err", err)
		}
		cancel()
	}
	var out []infra.Node
	for _, cp := range f.plan.Clusters {
		for _, n := range cp.Nodes {
			if n.Topo == nil || f.terminated[n.Container] {
				continue
			}
			node := infra.Node{Node: *n.Topo}
			if c, ok := f.containers[n.Container]; ok {
				node.Address = c.IP
				if c.PID > 0 {
					node.NetNSPath = fmt.Sprintf("/proc/%d/ns/net", c.PID)
				}
			}
			out = append(out, node)
		}
	}
	return out
}

// stalePIDsLocked reports whether any cached PID no longer belongs to its
// container (the container restarted behind our back).
func (f *Fleet) stalePIDsLocked() bool {
	for name, c := range f.containers {
		if f.terminated[name] || c.PID <= 0 {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.PID))
		if err != nil || !strings.Contains(string(b), c.ID) {
			return true
		}
	}
	return false
}

// PID is the host PID of the node container's init.
func (f *Fleet) PID(ctx context.Context, node string) (int, error) {
	_, n := f.plan.node(node)
	if n == nil {
		return 0, fmt.Errorf("unknown node %q", node)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.terminated[n.Container] {
		return 0, fmt.Errorf("node %s was terminated", node)
	}
	if f.stalePIDsLocked() || f.containers[n.Container].PID <= 0 {
		if err := f.refreshLocked(ctx); err != nil {
			return 0, err
		}
	}
	c, ok := f.containers[n.Container]
	if !ok || !c.Running || c.PID <= 0 {
		return 0, fmt.Errorf("node %s: container %s is not running", node, n.Container)
	}
	return c.PID, nil
}

// NetNS opens the node's network namespace from its container's PID
// (netns.GetFromPid, i.e. /proc/<pid>/ns/net). The caller closes it. It never
// returns the host's namespace.
func (f *Fleet) NetNS(ctx context.Context, node string) (netns.NsHandle, error) {
	pid, err := f.PID(ctx, node)
	if err != nil {
		return netns.None(), err
	}
	return openNetNS(pid)
}

func openNetNS(pid int) (netns.NsHandle, error) {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return netns.None(), fmt.Errorf("open /proc/%d/ns/net: %w", pid, err)
	}
	host, err := netns.GetFromPid(1)
	if err == nil {
		defer host.Close()
		if ns.Equal(host) {
			ns.Close()
			return netns.None(), fmt.Errorf("PID %d is in the host's network namespace: refusing", pid)
		}
	}
	return ns, nil
}

// NetlinkHandle returns a netlink handle inside the node's network
// namespace (netlink.NewHandleAt), so faults act on the node without this
// thread ever switching namespace. The caller deletes it.
func (f *Fleet) NetlinkHandle(ctx context.Context, node string) (*netlink.Handle, error) {
	ns, err := f.NetNS(ctx, node)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", node, err)
	}
	return h, nil
}

func (f *Fleet) netlinkLocked(container string) (*netlink.Handle, func(), error) {
	c, ok := f.containers[container]
	if !ok || c.PID <= 0 {
		return nil, nil, fmt.Errorf("container %s is not running", container)
	}
	ns, err := openNetNS(c.PID)
	if err != nil {
		return nil, nil, err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, nil, fmt.Errorf("netlink handle in %s: %w", container, err)
	}
	return h, h.Close, nil
}

// RESTConfig returns a client configuration for the cluster. A parent is
// reached on the API server port kind published on the host; a child only
// through the relay on the parent node that hosts its control plane.
func (f *Fleet) RESTConfig(name string) (*rest.Config, error) {
	cp := f.plan.cluster(name)
	if cp == nil {
		return nil, fmt.Errorf("unknown cluster %q", name)
	}
	raw, err := os.ReadFile(filepath.Join(f.dir, cp.Name+".kubeconfig"))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of %s: %w", name, err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of %s: %w", name, err)
	}
	if cp.Host != nil {
		f.mu.Lock()
		host, ok := f.containers[cp.Host.Container]
		f.mu.Unlock()
		if !ok || host.IP == "" {
			return nil, fmt.Errorf("cluster %s: its host %s has no address", name, cp.Host.Name)
		}
		cfg.Host = fmt.Sprintf("https://%s", net.JoinHostPort(host.IP, fmt.Sprint(cp.RelayPort)))
		cfg.TLSClientConfig.ServerName = cp.Host.Container
	}
	cfg.Timeout = 5 * time.Second
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

// Reboot restarts a node container in place: it keeps its name, volumes and
// Kubernetes identity. Its network comes back in boot order: Docker gives
// eth0 its address (what networkd does), then the provider, as the CNI
// agent, re-installs the policy routing and any relay the node hosts.
func (f *Fleet) Reboot(ctx context.Context, node string) error {
	cp, n := f.plan.node(node)
	if n == nil || n.Topo == nil {
		return fmt.Errorf("reboot: unknown node %q", node)
	}
	f.mu.Lock()
	gone := f.terminated[n.Container]
	f.mu.Unlock()
	if gone {
		return fmt.Errorf("reboot %s: the node was terminated", node)
	}
	started := time.Now()
	if _, err := f.docker.run(ctx, nil, restartArgs(n.Container, int(f.opts.RebootGrace/time.Second))...); err != nil {
		return fmt.Errorf("reboot %s: %w", node, err)
	}
	// The CNI comes after the node's own boot: kind's entrypoint reads the
	// default route Docker gave eth0, so touching the network earlier would
	// fail the boot.
	if err := f.waitBooted(ctx, cp, n, f.opts.WaitForReady); err != nil {
		return fmt.Errorf("reboot %s: %w", node, err)
	}
	f.mu.Lock()
	old := f.containers[n.Container].IP
	if err := f.refreshLocked(ctx); err != nil {
		f.mu.Unlock()
		return fmt.Errorf("reboot %s: %w", node, err)
	}
	moved := f.containers[n.Container].IP != old
	var errs []error
	for k := range cp.Nodes {
		peer := &cp.Nodes[k]
		// Peers route to this node's pods through its address: redo them
		// only if it changed.
		if f.terminated[peer.Container] || (peer.Container != n.Container && !moved) {
			continue
		}
		if err := f.policyRouteLocked(ctx, cp, peer); err != nil {
			errs = append(errs, err)
		}
	}
	f.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reboot %s: %w", node, err)
	}
	// A child control plane is a workload on its host: it serves again once
	// the host's kubelet is back and Ready, not the moment the host boots.
	if len(f.plan.hostedBy(node)) > 0 {
		if err := f.waitNodeReady(ctx, cp, node, started, f.opts.WaitForReady); err != nil {
			return fmt.Errorf("reboot %s: the child control planes it hosts wait for it to be Ready: %w", node, err)
		}
	}
	if err := f.installRelays(ctx, node); err != nil {
		return fmt.Errorf("reboot %s: %w", node, err)
	}
	if err := f.restartServices(ctx, node); err != nil {
		return fmt.Errorf("reboot %s: %w", node, err)
	}
	return nil
}

// Terminate removes a node container and its volume. Its Node object stays
// in the API server, NotReady, as after a cloud instance is terminated, and
// any child control plane it relayed becomes unreachable.
func (f *Fleet) Terminate(ctx context.Context, node string) error {
	_, n := f.plan.node(node)
	if n == nil || n.Topo == nil {
		return fmt.Errorf("terminate: unknown node %q", node)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.terminated[n.Container] {
		return nil
	}
	if _, err := f.docker.run(ctx, nil, removeArgs(n.Container)...); err != nil {
		return fmt.Errorf("terminate %s: %w", node, err)
	}
	f.terminated[n.Container] = true
	delete(f.containers, n.Container)
	return nil
}

// Down deletes every kind cluster and network of the run, and its state
// folder. It is idempotent and works on a half-built fleet.
func (f *Fleet) Down(ctx context.Context) error {
	f.stopClouds(ctx)
	return teardown(ctx, f.docker, f.kind, f.plan.RunID, f.dir)
}

// WaitReady waits until every node of every cluster (hosted control planes
// included) is Ready and has renewed its Lease since WaitReady was called, or
// timeout. The Lease matters: a Ready condition stays True for a whole grace
// period after a node went silent.
func (f *Fleet) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	since := time.Now()
	var last error
	for {
		last = f.notReady(ctx, since)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for Ready nodes: %w (last: %v)", ctx.Err(), last)
		case <-time.After(2 * time.Second):
		}
	}
}

func (f *Fleet) notReady(ctx context.Context, since time.Time) error {
	var errs []error
	for i := range f.plan.Clusters {
		errs = append(errs, f.clusterNotReady(ctx, &f.plan.Clusters[i], since, ""))
	}
	return errors.Join(errs...)
}

// clusterNotReady says which nodes of the cluster (only the one named, if
// only is set) are not Ready or have not renewed their Lease since since.
func (f *Fleet) clusterNotReady(ctx context.Context, cp *clusterPlan, since time.Time, only string) error {
	cs, err := f.clientset(cp.Name)
	if err != nil {
		return err
	}
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("cluster %s: %w", cp.Name, err)
	}
	ready := map[string]bool{}
	for _, n := range list.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready[n.Name] = true
			}
		}
	}
	leases, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("cluster %s: %w", cp.Name, err)
	}
	fresh := map[string]bool{}
	for _, l := range leases.Items {
		// The API server keeps microseconds; allow for the clock's grain.
		if l.Spec.RenewTime != nil && !l.Spec.RenewTime.Time.Before(since.Add(-time.Second)) {
			fresh[l.Name] = true
		}
	}
	var errs []error
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range cp.Nodes {
		switch {
		case only != "" && n.Name != only:
		case f.terminated[n.Container]:
		case !ready[n.Name]:
			errs = append(errs, fmt.Errorf("node %s of %s not Ready", n.Name, cp.Name))
		case !fresh[n.Name]:
			errs = append(errs, fmt.Errorf("node %s of %s has not renewed its Lease since %s", n.Name, cp.Name, since.Format(time.TimeOnly)))
		}
	}
	return errors.Join(errs...)
}

// waitNodeReady waits until the node is Ready in its cluster and has
// renewed its Lease since since, or timeout.
func (f *Fleet) waitNodeReady(ctx context.Context, cp *clusterPlan, node string, since time.Time, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		last := f.clusterNotReady(ctx, cp, since, node)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
