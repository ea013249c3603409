package runcmd

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aftershock-sre/aftershock/cmd/aftershock/internal/progress"
	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/experiments/slo"
)

// liveStatus shows, while a run goes on, which step is running and how many
// nodes are injected and NotReady, read from the running scenario's timeline.
type liveStatus struct {
	printer  *progress.Printer
	scenario atomic.Pointer[watched]
}

type watched struct {
	name string
	tl   *experiments.Timeline
}

func (s *liveStatus) watch(name string, tl *experiments.Timeline) {
	s.scenario.Store(&watched{name: name, tl: tl})
}

// run redraws the status every interval until ctx ends.
func (s *liveStatus) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if w := s.scenario.Load(); w != nil {
			key, line := statusLine(w.name, w.tl.Kinds(experiments.KindStep, experiments.KindFault, experiments.KindNodeReady), time.Now())
			s.printer.Status(key, line)
		}
	}
}

// statusLine summarises a scenario's timeline: the step running, the faults
// in place, and the nodes NotReady among those observed.
func statusLine(scenario string, events []experiments.Event, now time.Time) (key, line string) {
	steps, step, injected := 0, "", 0
	for _, e := range events {
		switch {
		case e.Kind == experiments.KindStep && e.Status == "started" && e.Name != "scenario: "+scenario:
			steps++
			step = e.Name
		case e.Kind == experiments.KindFault && e.Status == "injected":
			injected++
		case e.Kind == experiments.KindFault && e.Status == "reverted":
			injected--
		}
	}
	ready := slo.ReadinessAt(events, now)
	notReady := 0
	for _, st := range ready {
		if st == experiments.NotReady {
			notReady++
		}
	}
	key = fmt.Sprintf("%s/%d", scenario, steps)
	line = fmt.Sprintf("[%s] step %d: %s | injected %d | NotReady %d of %d nodes", scenario, steps, step, injected, notReady, len(ready))
	return key, line
}
