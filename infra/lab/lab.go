package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/lab/agent"
	"github.com/aftershock-sre/aftershock/infra/lab/internal/namespace"
	"github.com/aftershock-sre/aftershock/infra/nsnet"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// NamespacePrefix starts the name of every network namespace the lab creates:
// as-<run>-fabric and as-<run>-<node>.
const NamespacePrefix = "as-"

// DefaultStateRoot is where each lab keeps its working folder (certificates,
// etcd data, logs, state.json), one sub-folder per run.
var DefaultStateRoot = filepath.Join(os.TempDir(), "aftershock")

// Options configure a lab. The zero value is usable except for Binaries,
// which FindBinaries fills in.
type Options struct {
	// RunID names the run; a random 6-hex-digit ID when empty.
	RunID string
	// StateRoot holds one working folder per run. Default DefaultStateRoot.
	StateRoot string
	Binaries  Binaries
	// AgentCommand is the argv that starts a node agent; the agent's flags are
	// appended. Default: FindAgent.
	AgentCommand []string
	// ServiceCommand is the argv that starts one service shard or replica;
	// its flags are appended. Default: FindService, looked up when a service
	// is first started.
	ServiceCommand []string
	// Detach lets the lab's processes outlive this process (aftershock lab
	// up). Otherwise they are killed when this process dies.
	Detach bool
	// Retain keeps a lab that failed to start, with its logs, for debugging;
	// tear it down afterwards with Teardown (aftershock lab down).
	Retain bool
	// ProcessEnv is added to the environment of every lab process.
	ProcessEnv []string
	// Progress, if set, is told how bring-up advances.
	Progress func(Progress)
	Logger   *slog.Logger
}

// Progress reports one step of bring-up: Done of Total items of Phase.
type Progress struct {
	Phase       string
	Done, Total int
}

// Lab is a running embedded lab. It implements infra.Fleet.
type Lab struct {
	opts  Options
	log   *slog.Logger
	mu    sync.Mutex // guards state
	state *state

	spawner *spawner

	clientsMu sync.Mutex
	clients   map[string]kubernetes.Interface

	clouds []*regionCloud // guarded by mu
}

var _ infra.Fleet = (*Lab)(nil)

// ErrNotRoot is returned when the lab is started without the privileges it
// needs to create network namespaces.
var ErrNotRoot = errors.New("the embedded lab needs root (it creates network namespaces); run as root or with sudo")

// Preflight checks that this process may build a lab: it must be root.
func Preflight() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	return nil
}

// Up creates the lab for topo: the fabric, every node with its network, a
// control plane per cluster and an agent per node, and waits until every node
// is Ready in its cluster's API server. On any failure it tears down what it
// made before returning.
func Up(ctx context.Context, topo topology.Topology, opts Options) (_ *Lab, err error) {
	if err := topo.Validate(); err != nil {
		return nil, err
	}
	if err := Preflight(); err != nil {
		return nil, err
	}
	if err := opts.Binaries.check(); err != nil {
		return nil, err
	}
	l, err := newLab(topo.WithDefaults(), opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && opts.Retain {
			err = fmt.Errorf("%w (lab %s retained: logs in %s/logs)", err, l.state.RunID, l.state.Dir)
			return
		}
		if err != nil {
			if downErr := l.Down(context.WithoutCancel(ctx)); downErr != nil {
				err = errors.Join(err, fmt.Errorf("tear down after failed start: %w", downErr))
			}
		}
	}()
	if err := l.build(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// validRunID matches run IDs: they become part of namespace and folder
// names, and the prefix "as-<run>-" must stay unambiguous.
var validRunID = regexp.MustCompile(`^[a-z0-9]{1,12}$`)

func newLab(topo topology.Topology, opts Options) (*Lab, error) {
	if opts.RunID == "" {
		opts.RunID = newRunID()
	}
	if !validRunID.MatchString(opts.RunID) {
		return nil, fmt.Errorf("run ID %q: want 1 to 12 lowercase letters or digits", opts.RunID)
	}
	if opts.StateRoot == "" {
		opts.StateRoot = DefaultStateRoot
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Progress == nil {
		opts.Progress = func(Progress) {}
	}
	if len(opts.AgentCommand) == 0 {
		agentPath, err := FindAgent()
		if err != nil {
			return nil, err
		}
		opts.AgentCommand = []string{agentPath}
	}
	dir := filepath.Join(opts.StateRoot, opts.RunID)
	if err := os.MkdirAll(opts.StateRoot, 0o755); err != nil {
		return nil, fmt.Errorf("create state root: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create lab folder (is run %s already up?): %w", opts.RunID, err)
	}
	l := &Lab{opts: opts, log: opts.Logger, state: plan(topo, opts.RunID, dir), spawner: newSpawner()}
	if err := l.state.save(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return l, nil
}

func newRunID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// plan lays out names, addresses, ports and control-plane placement. It
// creates nothing.
func plan(topo topology.Topology, runID, dir string) *state {
	s := &state{RunID: runID, Dir: dir, Topology: topo, Fabric: NamespacePrefix + runID + "-fabric"}
	for ri, r := range topo.Regions {
		s.Regions = append(s.Regions, regionState{
			Name:    r.Name,
			Bridge:  "br-" + r.Name,
			Gateway: regionGateway(ri + 1).String(),
			Subnet:  regionSubnet(ri + 1).String(),
		})
		k := 0
		for _, c := range r.Clusters {
			for _, n := range c.Nodes(r) {
				s.Nodes = append(s.Nodes, nodeState{
					Node: infra.Node{
						Node:      n,
						Address:   nodeAddress(ri+1, k).String(),
						NetNSPath: namespace.Path(NamespacePrefix + runID + "-" + n.Name),
					},
					Namespace:  NamespacePrefix + runID + "-" + n.Name,
					FabricVeth: fmt.Sprintf("v%d", len(s.Nodes)),
				})
				k++
			}
		}
	}
	// Parents host their own control plane on their first control-plane
	// node; children are spread round-robin over their parent's workers.
	slots := map[string]int{}
	nextWorker := map[string]int{}
	host := func(c topology.Cluster, r topology.Region) string {
		if c.Role == topology.Parent {
			return fmt.Sprintf("%s-cp0", c.Name)
		}
		for _, p := range r.Clusters {
			if p.Name == c.Parent {
				i := nextWorker[p.Name] % p.Workers
				nextWorker[p.Name]++
				return fmt.Sprintf("%s-w%d", p.Name, i)
			}
		}
		return ""
	}
	for _, rc := range topo.Clusters() {
		h := host(rc.Cluster, rc.Region)
		slot := slots[h]
		slots[h]++
		var addr string
		for _, n := range s.Nodes {
			if n.Name == h {
				addr = n.Address
			}
		}
		s.Clusters = append(s.Clusters, clusterState{
			Name:           rc.Cluster.Name,
			Region:         rc.Region.Name,
			HostNode:       h,
			Address:        addr,
			APIPort:        apiPort(slot),
			EtcdClientPort: etcdClientPort(slot),
			EtcdPeerPort:   etcdPeerPort(slot),
			Kubeconfig:     filepath.Join(dir, "clusters", rc.Cluster.Name, "admin.kubeconfig"),
		})
	}
	return s
}

// build creates everything in plan order, reporting progress.
func (l *Lab) build(ctx context.Context) error {
	s := l.state
	l.opts.Progress(Progress{Phase: "network", Done: 0, Total: len(s.Nodes)})
	if err := createFabric(ctx, s); err != nil {
		return err
	}
	err := parallel(ctx, len(s.Nodes), 8, func(i int) error {
		return createNode(ctx, s, &s.Nodes[i])
	}, func(done int) { l.opts.Progress(Progress{Phase: "network", Done: done, Total: len(s.Nodes)}) })
	if err != nil {
		return err
	}
	if err := writePKI(s); err != nil {
		return err
	}
	clusters := make([]*clusterState, len(s.Clusters))
	for i := range s.Clusters {
		clusters[i] = &s.Clusters[i]
	}
	if err := l.startControlPlanes(ctx, clusters, true); err != nil {
		return err
	}
	for i := range s.Nodes {
		if err := l.startAgent(&s.Nodes[i]); err != nil {
			return err
		}
	}
	return l.WaitReady(ctx)
}

// parallel runs fn(0..n-1) on up to width goroutines and reports completions.
func parallel(ctx context.Context, n, width int, fn func(i int) error, progress func(done int)) error {
	var (
		mu   sync.Mutex
		errs *multierror.Error
		done int
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, width)
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := fn(i)
			mu.Lock()
			defer mu.Unlock()
			errs = multierror.Append(errs, err)
			done++
			progress(done)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errs.ErrorOrNil()
}

func (l *Lab) startAgent(n *nodeState) error { return l.startAgentWith(n, nil) }

// startAgentWith starts the node's agent, its configuration adjusted by
// adjust if not nil.
func (l *Lab) startAgentWith(n *nodeState, adjust func(*agent.Config)) error {
	c, err := l.state.cluster(n.Cluster)
	if err != nil {
		return err
	}
	files := pkiPaths(l.state.Dir)
	cfg := agent.Config{
		Server:         apiURL(c.Address, c.APIPort),
		CAFile:         files.CA,
		CertFile:       files.AdminCert,
		KeyFile:        files.AdminKey,
		NodeName:       n.Name,
		Address:        n.Address,
		Labels:         infra.NodeLabels(n.Node.Node),
		Heartbeat:      l.state.Topology.Timing.Heartbeat,
		KubeletVersion: KubeVersion,
		HealthzPort:    healthzPort,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	argv := append(append([]string{}, l.opts.AgentCommand...), cfg.Args()...)
	return l.startProcess(n.Namespace, "agent", argv)
}

// RunID identifies this lab.
func (l *Lab) RunID() string { return l.state.RunID }

// Dir is the lab's working folder.
func (l *Lab) Dir() string { return l.state.Dir }

// Topology is the shape the lab was built from, with defaults applied.
func (l *Lab) Topology() topology.Topology { return l.state.Topology }

// Nodes lists the lab's nodes that have not been terminated.
func (l *Lab) Nodes() []infra.Node {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []infra.Node
	for _, n := range l.state.Nodes {
		if !n.Terminated {
			out = append(out, n.Node)
		}
	}
	return out
}

// Kubeconfig returns the path of an admin kubeconfig for the cluster. Its
// server is reachable from the fabric namespace:
// ip netns exec as-<run>-fabric kubectl --kubeconfig PATH get nodes.
func (l *Lab) Kubeconfig(cluster string) (string, error) {
	c, err := l.state.cluster(cluster)
	if err != nil {
		return "", err
	}
	return c.Kubeconfig, nil
}

// RESTConfig returns a client-go config for the cluster whose connections are
// dialled from inside the fabric namespace, so this process can observe the
// lab without any route in the host namespace.
func (l *Lab) RESTConfig(cluster string) (*rest.Config, error) {
	c, err := l.state.cluster(cluster)
	if err != nil {
		return nil, err
	}
	files := pkiPaths(l.state.Dir)
	cfg := &rest.Config{
		Host: apiURL(c.Address, c.APIPort),
		TLSClientConfig: rest.TLSClientConfig{
			CAFile:   files.CA,
			CertFile: files.AdminCert,
			KeyFile:  files.AdminKey,
		},
		Dial:    nsnet.Dialer(namespace.Path(l.state.Fabric), netDialer()),
		Timeout: 5 * time.Second,
		QPS:     100,
		Burst:   200,
	}
	return cfg, nil
}

// Reboot restarts a node in place: every process on it stops, its network
// comes back in boot order (kernel defaults, networkd, then the CNI's rules),
// and its agent and the control planes it hosts start again with their data.
// It returns once the hosted API servers answer again; several nodes may
// reboot at once.
func (l *Lab) Reboot(ctx context.Context, name string) error {
	l.mu.Lock()
	n, err := l.state.node(name)
	var hosted []*clusterState
	if err == nil {
		hosted = l.state.hostedClusters(name)
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if n.Terminated {
		return fmt.Errorf("reboot %s: the node was terminated", name)
	}
	if err := stopProcesses(ctx, []string{n.Namespace}, 2*time.Second); err != nil {
		return fmt.Errorf("reboot %s: stop processes: %w", name, err)
	}
	h, err := namespace.Open(n.Namespace)
	if err != nil {
		return fmt.Errorf("reboot %s: %w", name, err)
	}
	defer h.Close()
	if err := bootNetwork(h, l.state, n); err != nil {
		return fmt.Errorf("reboot %s: %w", name, err)
	}
	// The agent starts first, as a kubelet does, with the services it runs;
	// the control planes it hosts follow, as static pods do.
	if err := l.startAgent(n); err != nil {
		return fmt.Errorf("reboot %s: %w", name, err)
	}
	if err := l.restartServices(name); err != nil {
		return fmt.Errorf("reboot %s: %w", name, err)
	}
	if err := l.startControlPlanes(ctx, hosted, false); err != nil {
		return fmt.Errorf("reboot %s: %w", name, err)
	}
	return nil
}

// startControlPlanes starts etcd and the API server of each cluster, waits
// until they are ready, then starts their controller managers.
func (l *Lab) startControlPlanes(ctx context.Context, clusters []*clusterState, report bool) error {
	for _, c := range clusters {
		if err := l.startAPIServer(c); err != nil {
			return err
		}
	}
	if err := l.waitAPIServers(ctx, clusters, report); err != nil {
		return err
	}
	for _, c := range clusters {
		if err := l.startControllers(c); err != nil {
			return err
		}
	}
	return nil
}

// Terminate destroys a node: its processes are killed and its namespace is
// deleted. Its Node object stays in the API server, NotReady, as after a cloud
// instance is terminated.
func (l *Lab) Terminate(ctx context.Context, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.state.node(name)
	if err != nil {
		return err
	}
	if err := stopProcesses(ctx, []string{n.Namespace}, 0); err != nil {
		return fmt.Errorf("terminate %s: %w", name, err)
	}
	if err := namespace.Delete(ctx, n.Namespace); err != nil {
		return fmt.Errorf("terminate %s: %w", name, err)
	}
	n.Terminated = true
	return l.state.save()
}

// Down stops every process and deletes every namespace and folder of the lab.
// It is idempotent and works on a half-built lab.
func (l *Lab) Down(ctx context.Context) error {
	l.stopClouds(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	err := teardown(ctx, l.state.RunID, l.state.Dir)
	if l.spawner != nil {
		l.spawner.close()
	}
	return err
}

// Attach finds a lab started by another process (aftershock lab up) from its
// state under root.
func Attach(runID, root string, opts Options) (*Lab, error) {
	if root == "" {
		root = DefaultStateRoot
	}
	s, err := loadState(filepath.Join(root, runID))
	if err != nil {
		return nil, fmt.Errorf("lab %s: %w", runID, err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.RunID, opts.StateRoot = runID, root
	// Whatever an attached command restarts must outlive it, like the rest
	// of the lab that `lab up` started.
	opts.Detach = true
	return &Lab{opts: opts, log: opts.Logger, state: s}, nil
}

// Teardown removes everything a run left behind, found by name alone: every
// process in an as-<run>- namespace, the namespaces, and the run's folder
// under root. It needs no state file, so it also cleans up after a crash.
func Teardown(ctx context.Context, runID, root string) error {
	if root == "" {
		root = DefaultStateRoot
	}
	return teardown(ctx, runID, filepath.Join(root, runID))
}

func teardown(ctx context.Context, runID, dir string) error {
	names, err := namespace.List(NamespacePrefix + runID + "-")
	if err != nil {
		return err
	}
	var errs *multierror.Error
	// Stop everything first, so no process is left holding a namespace.
	errs = multierror.Append(errs, stopProcesses(ctx, names, time.Second))
	derr := parallel(ctx, len(names), 16, func(i int) error {
		return namespace.Delete(ctx, names[i])
	}, func(int) {})
	errs = multierror.Append(errs, derr)
	if err := os.RemoveAll(dir); err != nil {
		errs = multierror.Append(errs, fmt.Errorf("remove %s: %w", dir, err))
	}
	if filepath.Dir(dir) == DefaultStateRoot {
		_ = os.Remove(DefaultStateRoot) // only if no other lab is there
	}
	if err := errs.ErrorOrNil(); err != nil {
		return fmt.Errorf("tear down lab %s: %w", runID, err)
	}
	return nil
}
