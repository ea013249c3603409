package scenario

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/experiments/action"
	"github.com/aftershock-sre/aftershock/experiments/fault"
	"github.com/aftershock-sre/aftershock/experiments/journal"
	"github.com/aftershock-sre/aftershock/experiments/probe"
	"github.com/aftershock-sre/aftershock/experiments/target"
	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// Provider builds a fleet for a topology: the embedded lab, kind or Terraform.
type Provider interface {
	Name() string
	Up(ctx context.Context, topo topology.Topology) (infra.Fleet, error)
}

// Scenario is the live state of one experiment.
type Scenario struct {
	Timeline *experiments.Timeline
	Fleet    infra.Fleet
	// Networkd is how every node's systemd-networkd is configured.
	Networkd fault.NetworkdConfig
	// JournalPath is where injections are journalled before they happen.
	JournalPath string
	// FaultStart is the instant T of the latest fault step.
	FaultStart time.Time

	journal       *journal.Journal
	probeCtx      context.Context
	stopProbes    context.CancelFunc
	probesDone    sync.WaitGroup
	readiness     []*probe.Readiness
	controlPlanes []*probe.ControlPlane

	mu       sync.Mutex
	injected []fault.Fault
	hit      map[string]bool // nodes a fault broke and no reboot has healed yet
	seq      int
	clouds   map[string]infra.RegionCloud
	// interlock admits the namespaces of this run's nodes, and nothing
	// else, to faults.
	interlock    *fault.Interlock
	providerName string
	// abortCtx is cancelled when a stop condition triggers.
	abortCtx context.Context
	abortNow context.CancelCauseFunc
}

// New returns a scenario that records on a new timeline.
func New(clock experiments.Clock, journalPath string) *Scenario {
	return &Scenario{
		Timeline:    experiments.NewTimeline(clock),
		Networkd:    DefaultNetworkd(),
		JournalPath: journalPath,
		hit:         map[string]bool{},
	}
}

// DefaultNetworkd is the lab's systemd-networkd: v249 with its default
// ManageForeignRoutingPolicyRules=yes, managing eth0. Foreign routes are left
// alone, as in the 2023 incident, where the rules were what broke.
func DefaultNetworkd() fault.NetworkdConfig {
	cfg := fault.DefaultNetworkdConfig()
	cfg.ManageForeignRoutingPolicyRules = true
	cfg.ManageForeignRoutes = false
	cfg.ManagedLinks = []string{"eth0"}
	return cfg
}

// Provision brings the fleet up and starts the probes; it returns once every
// cluster's readiness probe has its first sample of every node.
func (s *Scenario) Provision(ctx context.Context, p Provider, topo topology.Topology) error {
	if err := s.openJournal(); err != nil {
		return err
	}
	fleet, err := p.Up(ctx, topo)
	if err != nil {
		return fmt.Errorf("provision %s fleet: %w", p.Name(), err)
	}
	s.Fleet = fleet
	if err := s.recordFleet(p.Name(), journal.StateInjected); err != nil {
		return err
	}
	for _, n := range fleet.Nodes() {
		if err := s.admit(n); err != nil {
			return fmt.Errorf("provision %s fleet: %w", p.Name(), err)
		}
	}
	probeCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.probeCtx, s.stopProbes = probeCtx, cancel
	for _, rc := range fleet.Topology().Clusters() {
		cfg, err := fleet.RESTConfig(rc.Cluster.Name)
		if err != nil {
			return err
		}
		r := &probe.Readiness{Cluster: rc.Cluster.Name, Region: rc.Region.Name, Config: cfg, Timeline: s.Timeline}
		if err := r.Run(probeCtx); err != nil {
			return err
		}
		s.readiness = append(s.readiness, r)
		cp := &probe.ControlPlane{Cluster: rc.Cluster.Name, Region: rc.Region.Name, Config: cfg,
			Interval: 250 * time.Millisecond, Timeout: time.Second, Timeline: s.Timeline, OnChange: r.SetReachable}
		s.controlPlanes = append(s.controlPlanes, cp)
		s.probesDone.Add(1)
		go func() {
			defer s.probesDone.Done()
			_ = cp.Run(probeCtx)
		}()
	}
	return nil
}

// ProbeRate is how many requests per second each service's prober sends.
const ProbeRate = 100

// StartService runs a degraded-mode service on the fleet and starts probing
// it from outside the regions.
func (s *Scenario) StartService(ctx context.Context, spec infra.ServiceSpec) error {
	host, ok := s.Fleet.(infra.ServiceHost)
	if !ok {
		return fmt.Errorf("service %s: this fleet cannot run services", spec.Name)
	}
	endpoints, err := host.StartService(ctx, spec)
	if err != nil {
		return err
	}
	p := &probe.HTTPService{Service: spec.Name, Endpoints: endpoints, Dial: host.ProbeDialer(),
		Rate: ProbeRate, Timeout: 500 * time.Millisecond, Path: "/query", Timeline: s.Timeline}
	s.probesDone.Add(1)
	go func() {
		defer s.probesDone.Done()
		_ = p.Run(s.probeCtx)
	}()
	return nil
}

// Readiness is the latest observed Ready/NotReady status of every node.
func (s *Scenario) Readiness() map[string]string {
	out := map[string]string{}
	for _, r := range s.readiness {
		for n, st := range r.Current() {
			out[n] = st
		}
	}
	return out
}

// ControlPlanes is the latest observed reachability of every cluster.
func (s *Scenario) ControlPlanes() map[string]string {
	out := map[string]string{}
	for _, cp := range s.controlPlanes {
		out[cp.Cluster] = cp.Status()
	}
	return out
}

// WaitAllReady waits until the probes see every fleet node Ready.
func (s *Scenario) WaitAllReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ready := s.Readiness()
		var missing []string
		for _, n := range s.Fleet.Nodes() {
			if ready[n.Name] != experiments.Ready {
				missing = append(missing, n.Name)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			return fmt.Errorf("%d nodes not Ready after %s: %v", len(missing), timeout, missing)
		}
		if err := s.Timeline.Clock().Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// RestartNetworkd restarts systemd-networkd on the selected nodes, each at
// T + its offset, where T is now. It returns once every injection is done.
func (s *Scenario) RestartNetworkd(ctx context.Context, sel target.Selection) error {
	if err := s.openJournal(); err != nil {
		return err
	}
	clock := s.Timeline.Clock()
	start := clock.Now()
	s.FaultStart = start
	for _, e := range sel.Events("networkd-restart", start) {
		s.Timeline.Append(e)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs *multierror.Error
	)
	for _, pick := range sel.Picks {
		s.mu.Lock()
		s.seq++
		id := fmt.Sprintf("%s/networkd-restart/%d", pick.Node.Name, s.seq)
		s.mu.Unlock()
		f, err := s.networkdFault(pick.Node, id)
		if err != nil {
			mu.Lock()
			errs = multierror.Append(errs, err)
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := clock.Sleep(ctx, start.Add(pick.Offset).Sub(clock.Now())); err != nil {
				return
			}
			if s.Abort().Err() != nil {
				return // a stop condition triggered: inject nothing more
			}
			err := f.Inject(ctx)
			s.recordFault(pick.Node, f, "injected", err)
			s.mu.Lock()
			s.injected = append(s.injected, f)
			if err == nil {
				s.hit[pick.Node.Name] = true
			}
			s.mu.Unlock()
			if err != nil {
				mu.Lock()
				errs = multierror.Append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errs.ErrorOrNil()
}

func (s *Scenario) recordFault(n infra.Node, f fault.Fault, status string, err error) {
	e := experiments.Event{Kind: experiments.KindFault, Name: f.Name(), Status: status,
		Node: n.Name, Cluster: n.Cluster, Region: n.Region}
	if err != nil {
		e.Status = "failed"
		e.Detail = map[string]string{"error": err.Error()}
	}
	s.Timeline.Append(e)
}

// Hit reports whether a fault broke the node and no reboot healed it since.
func (s *Scenario) Hit(node string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hit[node]
}

// RebootBroken reboots, group by group and parallel at a time, the nodes of
// each group that are broken: observed NotReady, or broken by a fault while
// their control plane could not say so.
func (s *Scenario) RebootBroken(ctx context.Context, groups []action.Group, parallel int) error {
	ready := s.Readiness()
	todo := make([]action.Group, len(groups))
	for i, g := range groups {
		todo[i].Name = g.Name
		for _, n := range g.Nodes {
			if ready[n.Name] == experiments.NotReady || s.Hit(n.Name) {
				todo[i].Nodes = append(todo[i].Nodes, n)
			}
		}
	}
	return action.RebootInOrder(ctx, rebootHealer{s}, todo,
		action.Procedure{Parallel: parallel, AwaitReady: s.awaitReady}, s.Timeline)
}

// GroupReadyTimeout bounds how long operators wait for a rebooted group to
// be Ready before they go on to the next.
const GroupReadyTimeout = 3 * time.Minute

// awaitReady waits until the probes see every one of nodes Ready, or fails
// after GroupReadyTimeout naming those that are not.
func (s *Scenario) awaitReady(ctx context.Context, nodes []string) error {
	ctx, cancel := context.WithTimeout(ctx, GroupReadyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ready := s.Readiness()
		var waiting []string
		for _, n := range nodes {
			if ready[n] != experiments.Ready {
				waiting = append(waiting, n)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still not Ready after %s", strings.Join(waiting, ", "), GroupReadyTimeout)
		case <-tick.C:
		}
	}
}

// rebootHealer reboots through the fleet and forgets that the node was hit:
// a reboot restores its network in boot order.
type rebootHealer struct{ s *Scenario }

func (r rebootHealer) Reboot(ctx context.Context, node string) error {
	if err := r.s.Fleet.Reboot(ctx, node); err != nil {
		return err
	}
	r.s.mu.Lock()
	delete(r.s.hit, node)
	r.s.mu.Unlock()
	return nil
}

// Teardown reverts every fault still in place, stops the probes and takes
// the fleet down. It always does all three, and reports every failure.
func (s *Scenario) Teardown(ctx context.Context) error {
	var errs *multierror.Error
	s.mu.Lock()
	injected := s.injected
	s.injected = nil
	s.mu.Unlock()
	if len(injected) > 0 {
		errs = multierror.Append(errs, fault.RevertAll(ctx, injected, 32))
		s.recordReverts(injected)
	}
	if s.stopProbes != nil {
		s.stopProbes()
		s.probesDone.Wait()
	}
	if s.Fleet != nil {
		err := s.Fleet.Down(ctx)
		errs = multierror.Append(errs, err)
		if err == nil {
			errs = multierror.Append(errs, s.recordFleet(s.providerName, journal.StateReverted))
		}
	}
	if s.journal != nil {
		errs = multierror.Append(errs, s.journal.Close())
	}
	err := errs.ErrorOrNil()
	if err != nil {
		return fmt.Errorf("tear down: %w", err)
	}
	return nil
}

// recordReverts puts each fault's last journalled state on the timeline,
// with what happened to a node that was rebooted, terminated or replaced
// meanwhile ("target gone", "target replaced").
func (s *Scenario) recordReverts(faults []fault.Fault) {
	entries, err := journal.Read(s.JournalPath)
	if err != nil {
		return
	}
	last := map[string]journal.Entry{}
	for _, e := range entries {
		last[e.Node+"/"+e.Fault] = e
	}
	nodes := map[string]infra.Node{}
	for _, n := range s.Fleet.Nodes() {
		nodes[n.Name] = n
	}
	for _, f := range faults {
		e, ok := last[f.Target()+"/"+f.Name()]
		if !ok {
			continue
		}
		ev := experiments.Event{Kind: experiments.KindFault, Name: f.Name(), Status: e.State, Node: f.Target(),
			Cluster: nodes[f.Target()].Cluster, Region: nodes[f.Target()].Region}
		if e.Error != "" {
			ev.Detail = map[string]string{"note": e.Error}
		}
		s.Timeline.Append(ev)
	}
}

// openJournal opens the injection journal once.
func (s *Scenario) openJournal() error {
	if s.journal != nil {
		return nil
	}
	j, err := journal.Open(s.JournalPath)
	if err != nil {
		return err
	}
	s.journal = j
	return nil
}

// recordFleet journals the fleet itself, so that `aftershock cleanup` can
// tear it down after a crash: injected once it is up, reverted once it is
// down. Only fleets with a run ID and a state folder (the lab) have one.
func (s *Scenario) recordFleet(provider, state string) error {
	s.providerName = provider
	lab, ok := s.Fleet.(interface {
		RunID() string
		Dir() string
	})
	if !ok || s.journal == nil {
		return nil
	}
	return s.journal.Record(journal.Entry{ID: "fleet/" + lab.RunID(), Fault: journal.FleetFault, State: state,
		Run: lab.RunID(), StateRoot: filepath.Dir(lab.Dir()), Provider: provider})
}

// admit lets faults act on a node of this run's fleet: its namespace, pinned
// by inode, joins the interlock.
func (s *Scenario) admit(n infra.Node) error {
	if n.NetNSPath == "" {
		return nil
	}
	s.mu.Lock()
	if s.interlock == nil {
		s.interlock = fault.NewInterlock()
	}
	il := s.interlock
	s.mu.Unlock()
	if err := il.Allow(n.NetNSPath); err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	return nil
}

// ErrNoFleet is returned by steps that need a fleet before one is described.
var ErrNoFleet = errors.New("no fleet yet: start the scenario with \"Given a fleet on the lab:\"")
