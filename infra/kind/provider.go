package kind

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/cluster"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// KubeVersion is the Kubernetes release of the node image that
// hack/build-kind-node-image.sh builds (KUBE_VERSION in hack/versions.env).
const KubeVersion = "v1.36.3"

// DefaultNodeImage is the node image hack/build-kind-node-image.sh builds
// offline. Where Docker can pull, kind's own default (kindest/node) works
// too: set Options.NodeImage to it.
const DefaultNodeImage = "aftershock/kind-node:" + KubeVersion

// Defaults for Options.
const (
	DefaultWaitForReady = 5 * time.Minute
	DefaultRebootGrace  = 5 * time.Second
)

// DefaultStateRoot holds one folder per run with the clusters' kubeconfigs.
var DefaultStateRoot = filepath.Join(os.TempDir(), "aftershock-kind")

// ErrNoNodeImage is returned when the node image is not on the engine.
var ErrNoNodeImage = errors.New("kind node image not found")

// ErrHostLimit is returned when the host's kernel limits cannot hold the
// topology's kind nodes.
var ErrHostLimit = errors.New("host limit too low for this kind fleet")

// Every kind node's systemd, containerd and kubelet hold about 13 inotify
// instances, and they all count against root's fs.inotify.max_user_instances
// (128 by default): beyond that, containerd's CRI fails with "too many open
// files" and kubeadm init with it. Measured on this host: 13 per Ready node,
// about 32 for the host itself.
const (
	inotifyPerNode = 13
	inotifyHost    = 32
)

// inotifyNeeded is the max_user_instances a fleet of n nodes needs.
func inotifyNeeded(nodes int) int { return inotifyHost + inotifyPerNode*nodes }

// checkInotify fails early, with the remedy, when limit cannot hold nodes.
func checkInotify(limit, nodes int) error {
	if need := inotifyNeeded(nodes); limit < need {
		return fmt.Errorf("%w: %d kind nodes need fs.inotify.max_user_instances >= %d, the host has %d "+
			"(raise it: sysctl -w fs.inotify.max_user_instances=%d)", ErrHostLimit, nodes, need, limit, max(need, 512))
	}
	return nil
}

func readInotifyLimit() (int, bool) {
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_instances")
	if err != nil {
		return 0, false
	}
	var n int
	if _, err := fmt.Sscan(string(b), &n); err != nil {
		return 0, false
	}
	return n, true
}

// Options configure the kind provider. The zero value is usable.
type Options struct {
	// RunID names the run; a random 6-hex-digit ID when empty. Every kind
	// cluster and network of the run is named as-<run>-….
	RunID string
	// NodeImage is the image of every node. Default DefaultNodeImage.
	NodeImage string
	// StateRoot holds <run>/<cluster>.kubeconfig. Default DefaultStateRoot.
	StateRoot string
	// WaitForReady is how long kind waits for each cluster's control plane
	// to be Ready, and the provider for every node after that.
	WaitForReady time.Duration
	// RebootGrace is how long a rebooting node's systemd may take to stop.
	RebootGrace time.Duration
	// Retain keeps what a failed Up made, for debugging; Teardown removes it.
	Retain bool
	// ServiceBinary is the aftershock-service program that degraded-mode
	// services run as, copied into node containers (StartService).
	ServiceBinary string
	// Progress, if set, is told how bring-up advances.
	Progress func(Progress)
	Logger   *slog.Logger
}

// Progress reports one step of bring-up.
type Progress struct {
	Phase       string
	Cluster     string
	Done, Total int
	Elapsed     time.Duration
}

// Provider builds a fresh set of kind clusters for every scenario.
type Provider struct {
	Options Options
}

// Name is the provider's name in reports and flags.
func (Provider) Name() string { return "kind" }

// Up creates the topology as kind clusters and waits until every node is
// Ready.
func (p Provider) Up(ctx context.Context, topo topology.Topology) (infra.Fleet, error) {
	return Up(ctx, topo, p.Options)
}

// createMu serialises kind's Create calls: kind reads the Docker network
// (KIND_EXPERIMENTAL_DOCKER_NETWORK) and docker (PATH) from the process
// environment, so the provider sets both around each call.
var createMu sync.Mutex

// Up creates one kind cluster per topology cluster (parents first, then
// their children), puts every node on policy routing, relays each child's
// API server through its host parent node, and waits until every node is
// Ready. On failure it deletes what it created, unless Options.Retain.
func Up(ctx context.Context, topo topology.Topology, opts Options) (_ *Fleet, err error) {
	if err := topo.Validate(); err != nil {
		return nil, err
	}
	topo = topo.WithDefaults()
	opts = withDefaults(opts)
	if err := Preflight(ctx, opts.NodeImage); err != nil {
		return nil, err
	}
	d, err := newDocker()
	if err != nil {
		return nil, err
	}
	pl, err := newPlan(topo, opts.RunID)
	if err != nil {
		return nil, err
	}
	if limit, ok := readInotifyLimit(); ok && !remoteDocker() {
		if err := checkInotify(limit, pl.containerCount()); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(opts.StateRoot, opts.RunID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state folder: %w", err)
	}
	f := &Fleet{
		opts:          opts,
		log:           opts.Logger,
		docker:        d,
		plan:          pl,
		dir:           dir,
		kind:          cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(kindLogger{opts.Logger})),
		terminated:    map[string]bool{},
		pids:          map[string]int{},
		joinTemplates: map[string]joinTemplate{},
	}
	defer func() {
		if err == nil {
			return
		}
		if opts.Retain {
			err = fmt.Errorf("%w (kind clusters of run %s retained; remove them with Teardown)", err, opts.RunID)
			return
		}
		if downErr := f.Down(context.WithoutCancel(ctx)); downErr != nil {
			err = errors.Join(err, fmt.Errorf("tear down after failed start: %w", downErr))
		}
	}()
	if err := f.build(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

func withDefaults(o Options) Options {
	if o.RunID == "" {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		o.RunID = hex.EncodeToString(b)
	}
	if o.NodeImage == "" {
		o.NodeImage = DefaultNodeImage
	}
	if o.StateRoot == "" {
		o.StateRoot = DefaultStateRoot
	}
	if o.WaitForReady == 0 {
		o.WaitForReady = DefaultWaitForReady
	}
	if o.RebootGrace == 0 {
		o.RebootGrace = DefaultRebootGrace
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(Progress) {}
	}
	return o
}

// Teardown removes everything a run left behind, found by name alone: every
// kind cluster named as-<run>-…, every network labelled with the run and
// named as-<run>-…, and the run's state folder. It needs no state, so it
// also cleans up after a crash. It is idempotent.
func Teardown(ctx context.Context, runID, stateRoot string) error {
	if !validRunID.MatchString(runID) {
		return fmt.Errorf("run ID %q: want 1 to 12 lowercase letters or digits", runID)
	}
	d, err := newDocker()
	if err != nil {
		return err
	}
	if stateRoot == "" {
		stateRoot = DefaultStateRoot
	}
	kp := cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(kindLogger{slog.New(slog.DiscardHandler)}))
	return teardown(ctx, d, kp, runID, filepath.Join(stateRoot, runID))
}

// Runs lists the runs that have kind clusters (named as-<run>-…) or
// networks (labelled with the run) on the engine, for cleanup after a crash.
func Runs(ctx context.Context) ([]string, error) {
	d, err := newDocker()
	if err != nil {
		return nil, err
	}
	kp := cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(kindLogger{slog.New(slog.DiscardHandler)}))
	names, err := kp.List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	out, err := d.run(ctx, nil, "network", "ls", "--filter", "label="+LabelRun, "--format", "{{.Name}}")
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	return RunsOf(append(names, strings.Fields(string(out))...)), nil
}

// RunsOf is the sorted, distinct run IDs of kind cluster and network names
// (as-<run>-<name>); other names are ignored.
func RunsOf(names []string) []string {
	var runs []string
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, ClusterPrefix)
		if !ok {
			continue
		}
		run, name, ok := strings.Cut(rest, "-")
		if ok && name != "" && validRunID.MatchString(run) && !slices.Contains(runs, run) {
			runs = append(runs, run)
		}
	}
	slices.Sort(runs)
	return runs
}

func teardown(ctx context.Context, d *docker, kp *cluster.Provider, runID, dir string) error {
	var errs []error
	all, err := kp.List()
	if err != nil {
		errs = append(errs, fmt.Errorf("list kind clusters: %w", err))
	}
	for _, name := range OwnedClusters(all, runID) {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		kubeconfig := filepath.Join(dir, strings.TrimPrefix(name, RunPrefix(runID))+".kubeconfig")
		if err := kp.Delete(name, kubeconfig); err != nil {
			errs = append(errs, fmt.Errorf("delete kind cluster %s: %w", name, err))
		}
	}
	out, err := d.run(ctx, nil, networkListArgs(runID)...)
	if err != nil {
		errs = append(errs, fmt.Errorf("list networks: %w", err))
	}
	for _, n := range OwnedNetworks(strings.Fields(string(out)), runID) {
		if _, err := d.run(ctx, nil, "network", "rm", n); err != nil && !strings.Contains(err.Error(), "not found") {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n, err))
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
	}
	if filepath.Dir(dir) == DefaultStateRoot {
		_ = os.Remove(DefaultStateRoot) // only if no other run is there
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tear down kind run %s: %w", runID, err)
	}
	return nil
}

// Preflight checks, creating nothing, that kind clusters of image can be
// created here: a Docker engine answers (ErrNoDocker) and holds the node
// image (ErrNoNodeImage).
func Preflight(ctx context.Context, image string) error {
	d, err := newDocker()
	if err != nil {
		return err
	}
	if err := d.ping(ctx); err != nil {
		return err
	}
	if _, err := d.run(ctx, nil, "image", "inspect", "--format", "{{.Id}}", image); err != nil {
		return fmt.Errorf("%w: %s (build it offline with hack/build-kind-node-image.sh or make kind-image, "+
			"or pull kindest/node where a registry is reachable): %v", ErrNoNodeImage, image, err)
	}
	return nil
}

// remoteDocker reports whether the engine may be on another host, whose
// limits this process cannot read.
func remoteDocker() bool {
	h := os.Getenv("DOCKER_HOST")
	return h != "" && !strings.HasPrefix(h, "unix://")
}
