package terraform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/nsnet"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// DefaultMaxBlastRadius is the largest share of a Terraform fleet's nodes
// that one fault may hit unless the run explicitly allows a global blast
// radius: a Terraform fleet is real infrastructure. An inventory's
// max_blast_radius may lower it, never raise it.
const DefaultMaxBlastRadius = 0.34

// FleetOptions configure a Fleet built from an inventory.
type FleetOptions struct {
	// Source names the fleet's origin in its topology and messages, e.g.
	// "terraform:infra/game-day (workspace prod)".
	Source string
	// BaseDir resolves relative kubeconfig paths: the module's working dir.
	BaseDir string
	// MaxBlastRadius is the cap (0 means DefaultMaxBlastRadius).
	MaxBlastRadius float64
	// Progress, if set, receives the action commands' stderr as it comes.
	Progress io.Writer
	Logger   *slog.Logger
	// Down, if set, is what Down runs once (e.g. terraform destroy).
	Down func(ctx context.Context) error
}

// Fleet is a fleet a Terraform module built, acted on only through the
// commands its inventory declares. It implements infra.Fleet.
type Fleet struct {
	inv    *Inventory
	topo   topology.Topology
	opts   FleetOptions
	log    *slog.Logger
	run    runner
	rest   map[string]*rest.Config
	maxCap float64

	mu         sync.Mutex
	terminated map[string]bool

	downMu sync.Mutex
	down   bool
}

var _ infra.Fleet = (*Fleet)(nil)

// NewFleet builds a fleet from a validated inventory. It loads every
// cluster's kubeconfig now, so that a bad one fails before anything runs.
func NewFleet(inv *Inventory, opts FleetOptions) (*Fleet, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if _, synced := opts.Progress.(*syncWriter); opts.Progress != nil && !synced {
		opts.Progress = &syncWriter{w: opts.Progress}
	}
	f := &Fleet{
		inv:        inv,
		topo:       inv.Topology(opts.Source),
		opts:       opts,
		log:        opts.Logger,
		run:        runner{progress: opts.Progress},
		rest:       map[string]*rest.Config{},
		terminated: map[string]bool{},
		maxCap:     opts.MaxBlastRadius,
	}
	if f.maxCap <= 0 || f.maxCap > 1 {
		f.maxCap = DefaultMaxBlastRadius
	}
	if inv.MaxBlastRadius > 0 && inv.MaxBlastRadius < f.maxCap {
		f.maxCap = inv.MaxBlastRadius
	}
	var errs []error
	for _, c := range inv.Clusters {
		cfg, err := restConfig(c, opts.BaseDir)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", c.Name, err))
			continue
		}
		f.rest[c.Name] = cfg
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

// restConfig reads a cluster's kubeconfig into a client configuration that
// dials from the cluster's api_netns, if it has one.
func restConfig(c Cluster, baseDir string) (*rest.Config, error) {
	var (
		cfg *clientcmdapi.Config
		err error
	)
	if c.KubeconfigPath != "" {
		path := c.KubeconfigPath
		if !filepath.IsAbs(path) && baseDir != "" {
			path = filepath.Join(baseDir, path)
		}
		cfg, err = clientcmd.LoadFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig_path: %w", err)
		}
	} else {
		cfg, err = clientcmd.Load([]byte(c.Kubeconfig))
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
	}
	if c.Context != "" {
		if _, ok := cfg.Contexts[c.Context]; !ok {
			return nil, fmt.Errorf("kubeconfig has no context %q", c.Context)
		}
	}
	rc, err := clientcmd.NewNonInteractiveClientConfig(*cfg, c.Context, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if c.APINetNS != "" {
		rc.Dial = nsnet.Dialer(c.APINetNS, net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second})
	}
	if rc.Timeout == 0 {
		rc.Timeout = 5 * time.Second
	}
	if rc.QPS == 0 {
		rc.QPS, rc.Burst = 50, 100
	}
	return rc, nil
}

// Inventory is what the module declared.
func (f *Fleet) Inventory() *Inventory { return f.inv }

// Topology is the fleet's shape, built from the inventory.
func (f *Fleet) Topology() topology.Topology { return f.topo }

// GameDay reports whether the module marked its fleet for game days.
func (f *Fleet) GameDay() bool { return f.inv.GameDay }

// MaxBlastRadius is the largest share of the fleet's nodes one fault may hit
// unless the run explicitly allows a global blast radius.
func (f *Fleet) MaxBlastRadius() float64 { return f.maxCap }

// CheckBlastRadius returns a *BlastRadiusError if selected nodes are more
// than the cap allows of the fleet's current nodes.
func (f *Fleet) CheckBlastRadius(selected int) error {
	total := len(f.Nodes())
	if total == 0 || float64(selected) <= f.maxCap*float64(total)+1e-9 {
		return nil
	}
	return &BlastRadiusError{Selected: selected, Total: total, Max: f.maxCap}
}

// Nodes lists the fleet's nodes that this process has not terminated.
// Their NetNSPath is empty: they are reached through their exec command.
func (f *Fleet) Nodes() []infra.Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []infra.Node
	for _, n := range f.inv.Nodes {
		if f.terminated[n.Name] {
			continue
		}
		out = append(out, infra.Node{Node: f.topologyNode(n), Address: n.Address})
	}
	return out
}

func (f *Fleet) topologyNode(n Node) topology.Node {
	tn := topology.Node{Name: n.Name, Region: n.Region, Cluster: n.Cluster, Role: n.Role}
	if i := slices.IndexFunc(f.inv.Regions, func(r Region) bool { return r.Name == n.Region }); i >= 0 {
		tn.Cloud = f.inv.Regions[i].Cloud
	}
	if c, ok := f.inv.Cluster(n.Cluster); ok {
		tn.ClusterRole = c.Role
	}
	return tn
}

// Node returns the named node as the inventory declares it.
func (f *Fleet) Node(name string) (Node, error) {
	n, ok := f.inv.Node(name)
	if !ok {
		return Node{}, fmt.Errorf("%w %q in this Terraform fleet", ErrUnknownNode, name)
	}
	return n, nil
}

// RESTConfig returns a client configuration for the cluster, from its
// kubeconfig. Callers get their own copy.
func (f *Fleet) RESTConfig(cluster string) (*rest.Config, error) {
	cfg, ok := f.rest[cluster]
	if !ok {
		return nil, fmt.Errorf("terraform fleet has no cluster %q", cluster)
	}
	return rest.CopyConfig(cfg), nil
}

// Command returns the argv an action would run on the node: "reboot",
// "terminate", or "exec" with command as the command to run on the node.
func (f *Fleet) Command(action, node string, command []string) ([]string, error) {
	n, err := f.Node(node)
	if err != nil {
		return nil, err
	}
	var tmpl []string
	switch action {
	case "reboot":
		tmpl = n.Actions.Reboot
	case "terminate":
		tmpl = n.Actions.Terminate
	case "exec":
		tmpl = n.Actions.Exec
	default:
		return nil, fmt.Errorf("unknown action %q (want reboot, terminate or exec)", action)
	}
	return expand(tmpl, n, string(f.topologyNode(n).Cloud), command), nil
}

// Reboot runs the node's reboot command. It returns when the command does;
// readiness is for the probes to observe.
func (f *Fleet) Reboot(ctx context.Context, node string) error {
	_, err := f.act(ctx, "reboot", node, nil)
	return err
}

// Terminate runs the node's terminate command; the node then leaves Nodes.
func (f *Fleet) Terminate(ctx context.Context, node string) error {
	if _, err := f.act(ctx, "terminate", node, nil); err != nil {
		return err
	}
	f.mu.Lock()
	f.terminated[node] = true
	f.mu.Unlock()
	return nil
}

// Exec runs argv on the node through its exec command and returns what it
// printed on stdout. A non-zero exit is an *ActionError with stderr's tail.
func (f *Fleet) Exec(ctx context.Context, node string, argv []string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("exec on %s: no command", node)
	}
	return f.act(ctx, "exec", node, argv)
}

func (f *Fleet) act(ctx context.Context, action, node string, command []string) ([]byte, error) {
	argv, err := f.Command(action, node, command)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", action, node, err)
	}
	return f.runOn(ctx, action, node, argv)
}

// runOn runs an expanded action command for the node, unless this process
// terminated the node.
func (f *Fleet) runOn(ctx context.Context, action, node string, argv []string) ([]byte, error) {
	f.mu.Lock()
	gone := f.terminated[node]
	f.mu.Unlock()
	if gone {
		return nil, fmt.Errorf("%s %s: the node was terminated", action, node)
	}
	start := time.Now()
	f.log.Debug("node action", "action", action, "node", node, "argv", argv)
	out, err := f.run.run(ctx, action, node, argv)
	f.log.Debug("node action done", "action", action, "node", node, "took", time.Since(start), "err", err)
	return out, err
}

// Terminated reports whether this process terminated the node.
func (f *Fleet) Terminated(node string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.terminated[node]
}

// Down runs FleetOptions.Down (terraform destroy, when the provider applied
// the module) until it succeeds once; later calls do nothing. Without one,
// the infrastructure is left as Terraform left it.
func (f *Fleet) Down(ctx context.Context) error {
	f.downMu.Lock()
	defer f.downMu.Unlock()
	if f.down || f.opts.Down == nil {
		return nil
	}
	if err := f.opts.Down(ctx); err != nil {
		return err
	}
	f.down = true
	return nil
}
