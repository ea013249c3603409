package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/experiments/fault"
	"github.com/aftershock-sre/aftershock/experiments/slo"
)

// StopCondition ends an experiment early, as AWS FIS stop conditions do:
// when a service's availability stays below Floor for For, injection
// stops, every fault is reverted and the scenario is aborted.
type StopCondition struct {
	// Name is how the scenario states it (the step text).
	Name    string
	Service string
	// Floor is a share in (0, 1].
	Floor float64
	For   time.Duration
}

// stopCheckInterval is how often stop conditions are evaluated.
const stopCheckInterval = 250 * time.Millisecond

// Abort is a context that is cancelled, with the reason as its cause, when
// a stop condition triggers. Steps run under it.
func (s *Scenario) Abort() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initAbort()
	return s.abortCtx
}

func (s *Scenario) initAbort() {
	if s.abortCtx == nil {
		s.abortCtx, s.abortNow = context.WithCancelCause(context.Background())
	}
}

// WatchStopCondition evaluates c until the probes stop or it triggers. It
// only judges whole windows of c.For that start after it is armed.
func (s *Scenario) WatchStopCondition(c StopCondition) error {
	if s.probeCtx == nil {
		return fmt.Errorf("stop condition %q: the fleet is not up", c.Name)
	}
	s.Abort() // create it before anyone waits on it
	armed := s.Timeline.Clock().Now()
	s.probesDone.Add(1)
	go func() {
		defer s.probesDone.Done()
		clock := s.Timeline.Clock()
		for {
			if err := clock.Sleep(s.probeCtx, stopCheckInterval); err != nil {
				return
			}
			now := clock.Now()
			if now.Sub(armed) < c.For {
				continue
			}
			share, ok, total := slo.Availability(s.Timeline.Kinds(experiments.KindRequest), c.Service, now.Add(-c.For), now)
			if total == 0 || share >= c.Floor {
				continue
			}
			observed := fmt.Sprintf("%s availability %.1f%% (%d of %d requests) from %s to %s",
				c.Service, 100*share, ok, total, now.Add(-c.For).UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
			s.trigger(c, observed)
			return
		}
	}()
	return nil
}

// trigger records the stop, aborts the running step and reverts every fault
// now, not at teardown.
func (s *Scenario) trigger(c StopCondition, observed string) {
	s.Timeline.Append(experiments.Event{Kind: experiments.KindStop, Name: c.Name, Status: "triggered",
		Detail: map[string]string{"observed": observed, "required": fmt.Sprintf("%s availability at least %.1f%% over any %s", c.Service, 100*c.Floor, c.For)}})
	s.mu.Lock()
	s.initAbort()
	s.abortNow(fmt.Errorf("aborted by the stop condition %q: %s", c.Name, observed))
	injected := s.injected
	s.injected = nil
	s.mu.Unlock()
	if len(injected) > 0 {
		err := fault.RevertAll(context.WithoutCancel(s.probeCtx), injected, 32)
		e := experiments.Event{Kind: experiments.KindStop, Name: c.Name, Status: "reverted",
			Detail: map[string]string{"faults": fmt.Sprint(len(injected))}}
		if err != nil {
			e.Status = "revert failed"
			e.Detail["error"] = err.Error()
		}
		s.Timeline.Append(e)
	}
}
