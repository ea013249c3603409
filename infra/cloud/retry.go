package cloud

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// RetryPolicy says how long a client waits before retrying a throttled or
// shed call.
//
// A fixed policy waits Initial every time. An exponential one waits Initial,
// then twice that, and so on, capped at Max. Jitter is the share of each wait
// that is random: the wait is drawn uniformly from [(1-Jitter)·d, d] for the
// step d. Jitter 0 is no jitter, 0.5 is "equal jitter" and 1 is "full
// jitter" (see the AWS Architecture Blog, "Exponential Backoff And Jitter").
type RetryPolicy struct {
	Initial     time.Duration
	Max         time.Duration
	Exponential bool
	Jitter      float64
}

// FixedRetry retries every interval with no backoff and no jitter: the 2023
// Cilium operator, which retried its IP-deficit loop every 10 ms, so that
// more than 99% of its CreateNetworkInterface calls were throttled.
func FixedRetry(interval time.Duration) RetryPolicy {
	return RetryPolicy{Initial: interval, Max: interval}
}

// ExponentialRetry doubles the wait from initial up to max, with equal
// jitter (Jitter 0.5): each wait is half the step plus a uniform random
// share of the other half. Equal rather than full jitter, so that a wait
// never drops below half the step: a herd of operators still spreads out,
// and none of them falls back into a hot loop against the API.
func ExponentialRetry(initial, max time.Duration) RetryPolicy {
	return RetryPolicy{Initial: initial, Max: max, Exponential: true, Jitter: 0.5}
}

// Validate checks the policy.
func (p RetryPolicy) Validate() error {
	var errs []error
	if p.Initial <= 0 {
		errs = append(errs, fmt.Errorf("retry interval %v: want more than 0", p.Initial))
	}
	if p.Exponential && p.Max < p.Initial {
		errs = append(errs, fmt.Errorf("retry backoff from %v to %v: want a maximum of at least the initial wait", p.Initial, p.Max))
	}
	if math.IsNaN(p.Jitter) || p.Jitter < 0 || p.Jitter > 1 {
		errs = append(errs, fmt.Errorf("retry jitter %g: want 0 to 1", p.Jitter))
	}
	return errors.Join(errs...)
}

// Next returns the wait after the attempt-th failed attempt (1 for the first
// failure; lower values count as 1). rnd draws the jitter; a nil rnd gives
// the step without jitter, its upper bound.
func (p RetryPolicy) Next(attempt int, rnd *rand.Rand) time.Duration {
	step := float64(p.Initial)
	if p.Exponential {
		step *= math.Pow(2, float64(max(attempt, 1)-1))
		step = math.Min(step, float64(p.Max))
	}
	if rnd == nil || p.Jitter <= 0 {
		return time.Duration(step)
	}
	j := math.Min(p.Jitter, 1)
	return time.Duration(step*(1-j) + rnd.Float64()*step*j)
}

// String describes the policy, e.g. "every 10ms, no backoff".
func (p RetryPolicy) String() string {
	jitter := ""
	switch {
	case p.Jitter == 0.5:
		jitter = ", equal jitter"
	case p.Jitter == 1:
		jitter = ", full jitter"
	case p.Jitter > 0:
		jitter = fmt.Sprintf(", jitter %g", p.Jitter)
	}
	if !p.Exponential {
		return fmt.Sprintf("every %v, no backoff%s", p.Initial, jitter)
	}
	return fmt.Sprintf("exponential backoff from %v to %v%s", p.Initial, p.Max, jitter)
}
