package steps

import (
	"context"
	"fmt"

	"github.com/aftershock-sre/aftershock/experiments/scenario"
)

func (steps) experimentStopsIf(ctx context.Context, service, pct, n, unit string) error {
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	if err := st.service(service); err != nil {
		return err
	}
	p, err := percent(pct)
	if err != nil {
		return fmt.Errorf("a floor of %s%%: want more than 0%% and at most 100%%", pct)
	}
	d, err := duration(n, unit)
	if err != nil {
		return err
	}
	if d <= 0 {
		return fmt.Errorf("for %s %s: want a window of more than 0", n, unit)
	}
	c := scenario.StopCondition{Name: st.stepText, Service: service, Floor: p / 100, For: d}
	st.stops = append(st.stops, c)
	st.planf("stop condition: %s availability below %s%% for %s stops the experiment", service, pct, d)
	if st.opts.Plan || st.sc.Fleet == nil {
		return nil
	}
	return st.sc.WatchStopCondition(c)
}

// startStopConditions arms every declared stop condition once the fleet and
// its services are up.
func (st *state) startStopConditions() error {
	for _, c := range st.stops {
		if err := st.sc.WatchStopCondition(c); err != nil {
			return err
		}
	}
	return nil
}
