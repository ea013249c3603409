package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cucumber/godog"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/experiments/scenario"
	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// Options configure the step library for a run.
type Options struct {
	// Provider builds fleets; it is not used when planning.
	Provider scenario.Provider
	// Fleet, if set, is built instead of every scenario's fleet table (the
	// table is still checked), e.g. a smaller fleet where nodes are costly.
	Fleet *topology.Topology
	// Seed makes every targeting step reproducible.
	Seed uint64
	// BlastRadius caps the share of nodes one fault step may hit; the zero
	// value allows every node, as the lab and kind do.
	BlastRadius BlastRadius
	// JournalDir receives each scenario's injection journal.
	JournalDir string
	// Plan makes every step a dry run: arguments are checked and each fault
	// step prints what it would hit to PlanOut; nothing is created.
	Plan    bool
	PlanOut io.Writer
	// Clock is the time source (default: the wall clock).
	Clock experiments.Clock
	// Watch, if set, receives each scenario's timeline when it starts, to
	// show progress while it runs.
	Watch func(name string, tl *experiments.Timeline)
	// Timelines, if set, receives each scenario's timeline when it ends,
	// with the scenario's feature file, name and fleet (nil if none).
	Timelines func(feature, name string, topo *topology.Topology, tl *experiments.Timeline)
}

// InitializeScenario returns a godog scenario initializer for the library.
func InitializeScenario(opts Options) func(*godog.ScenarioContext) {
	if opts.Clock == nil {
		opts.Clock = experiments.RealClock{}
	}
	var counter atomic.Int64
	return func(sc *godog.ScenarioContext) {
		register(sc)
		sc.Before(func(ctx context.Context, s *godog.Scenario) (context.Context, error) {
			id := counter.Add(1)
			journal := filepath.Join(opts.JournalDir, fmt.Sprintf("scenario-%d.jsonl", id))
			st := &state{opts: opts, source: s.Uri, name: s.Name, sc: scenario.New(opts.Clock, journal)}
			st.sc.Timeline.Append(experiments.Event{Kind: experiments.KindStep, Name: "scenario: " + s.Name, Status: "started"})
			if opts.Watch != nil {
				opts.Watch(s.Name, st.sc.Timeline)
			}
			return context.WithValue(ctx, stateKey{}, st), nil
		})
		sc.StepContext().Before(func(ctx context.Context, step *godog.Step) (context.Context, error) {
			if st, ok := ctx.Value(stateKey{}).(*state); ok {
				st.stepStart, st.stepText = st.opts.Clock.Now(), step.Text
				st.sc.Timeline.Append(experiments.Event{Kind: experiments.KindStep, Name: step.Text, Status: "started"})
				// A triggered stop condition cancels the running step and
				// fails every later one.
				abort := st.sc.Abort()
				if abort.Err() != nil {
					return ctx, context.Cause(abort)
				}
				stepCtx, cancel := context.WithCancelCause(ctx)
				stop := context.AfterFunc(abort, func() { cancel(context.Cause(abort)) })
				parent := ctx
				st.releaseStep = func() context.Context { stop(); cancel(nil); return parent }
				return stepCtx, nil
			}
			return ctx, nil
		})
		sc.StepContext().After(func(ctx context.Context, step *godog.Step, status godog.StepResultStatus, err error) (context.Context, error) {
			if st, ok := ctx.Value(stateKey{}).(*state); ok {
				if st.releaseStep != nil {
					// The next step derives from this step's parent, not
					// from its own, now cancelled, context.
					ctx = st.releaseStep()
					st.releaseStep = nil
				}
				var aborted error
				if abort := st.sc.Abort(); abort.Err() != nil && err != nil {
					aborted = context.Cause(abort)
					err = fmt.Errorf("%w (%w)", aborted, err)
				}
				e := experiments.Event{Kind: experiments.KindStep, Name: step.Text, Status: status.String()}
				if err != nil {
					e.Detail = map[string]string{"error": err.Error()}
				}
				st.sc.Timeline.Append(e)
				return ctx, aborted
			}
			return ctx, nil
		})
		sc.After(func(ctx context.Context, s *godog.Scenario, err error) (context.Context, error) {
			st, ok := ctx.Value(stateKey{}).(*state)
			if !ok {
				return ctx, nil
			}
			// Tear down even when the run was interrupted.
			downErr := st.sc.Teardown(context.WithoutCancel(ctx))
			if abort := st.sc.Abort(); abort.Err() != nil {
				downErr = errors.Join(context.Cause(abort), downErr)
			}
			st.sc.Timeline.Append(experiments.Event{Kind: experiments.KindStep, Name: "scenario: " + s.Name, Status: "ended"})
			if opts.Timelines != nil {
				opts.Timelines(s.Uri, s.Name, st.topo, st.sc.Timeline)
			}
			return ctx, downErr
		})
	}
}

type stateKey struct{}

// state is one scenario's state, carried in its context.
type state struct {
	opts     Options
	source   string
	name     string
	topo     *topology.Topology
	services []infra.ServiceSpec
	// clouds are the declared clouds of aws regions, started with the fleet.
	clouds     map[string]*infra.RegionCloudSpec
	cloudOrder []string
	// stops are the declared stop conditions, armed with the fleet.
	stops []scenario.StopCondition
	// releaseStep cancels the running step's context and returns the
	// context it was derived from.
	releaseStep func() context.Context
	sc          *scenario.Scenario
	stepStart   time.Time
	stepText    string
}

func stateFrom(ctx context.Context) (*state, error) {
	st, ok := ctx.Value(stateKey{}).(*state)
	if !ok {
		return nil, fmt.Errorf("step used outside an aftershock scenario")
	}
	return st, nil
}

// ensureFleet builds the described fleet on first use and waits until every
// node is Ready. When planning it only checks that a fleet was described.
func (st *state) ensureFleet(ctx context.Context) error {
	if st.topo == nil {
		return scenario.ErrNoFleet
	}
	if st.opts.Plan || st.sc.Fleet != nil {
		return nil
	}
	if st.opts.Provider == nil {
		return fmt.Errorf("no fleet provider configured")
	}
	if err := st.sc.Provision(ctx, st.opts.Provider, *st.topo); err != nil {
		return err
	}
	if err := st.sc.WaitAllReady(ctx, 3*time.Minute); err != nil {
		return err
	}
	for _, spec := range st.services {
		if err := st.sc.StartService(ctx, spec); err != nil {
			return err
		}
	}
	if err := st.startClouds(ctx); err != nil {
		return err
	}
	return st.startStopConditions()
}

// nodes are the fleet's nodes: the live ones, or, when planning, the ones
// the topology lays out.
func (st *state) nodes() []infra.Node {
	if st.sc.Fleet != nil {
		return st.sc.Fleet.Nodes()
	}
	if st.topo == nil {
		return nil
	}
	var out []infra.Node
	for _, n := range st.topo.Nodes() {
		out = append(out, infra.Node{Node: n})
	}
	return out
}

func names(nodes []infra.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}

// planf prints one line of the plan.
func (st *state) planf(format string, args ...any) {
	if st.opts.PlanOut != nil {
		fmt.Fprintf(st.opts.PlanOut, "  "+format+"\n", args...)
	}
}

func yes(s string) bool { return strings.EqualFold(s, "yes") }
