package cloud

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestRetryPolicyNext(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name     string
		policy   RetryPolicy
		attempts []int
		want     []time.Duration // without jitter (nil rnd)
	}{
		{
			name:     "fixed is constant",
			policy:   FixedRetry(10 * ms),
			attempts: []int{0, 1, 2, 3, 10, 100, 100000},
			want:     []time.Duration{10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms},
		},
		{
			name:     "exponential doubles up to max",
			policy:   ExponentialRetry(100*ms, 5*time.Second),
			attempts: []int{1, 2, 3, 4, 5, 6, 7, 8, 100000},
			want:     []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5000 * ms, 5000 * ms, 5000 * ms},
		},
		{
			name:     "attempt 0 counts as the first",
			policy:   ExponentialRetry(100*ms, 5*time.Second),
			attempts: []int{-1, 0},
			want:     []time.Duration{100 * ms, 100 * ms},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.policy.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			for i, a := range tt.attempts {
				if got := tt.policy.Next(a, nil); got != tt.want[i] {
					t.Errorf("Next(%d, nil) = %v, want %v", a, got, tt.want[i])
				}
			}
		})
	}
}

func TestRetryPolicyJitterBounded(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		policy RetryPolicy
		// each wait must lie in [lowShare·step, step]
		lowShare float64
	}{
		{name: "fixed has no jitter", policy: FixedRetry(10 * ms), lowShare: 1},
		{name: "exponential uses equal jitter", policy: ExponentialRetry(100*ms, 5*time.Second), lowShare: 0.5},
		{name: "full jitter", policy: RetryPolicy{Initial: 100 * ms, Max: 5 * time.Second, Exponential: true, Jitter: 1}, lowShare: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(1, 2))
			for attempt := 1; attempt <= 10; attempt++ {
				step := tt.policy.Next(attempt, nil)
				lo, hi := step, time.Duration(0)
				for range 2000 {
					d := tt.policy.Next(attempt, rnd)
					if d < time.Duration(tt.lowShare*float64(step)) || d > step {
						t.Fatalf("Next(%d) = %v, want within [%v, %v]", attempt, d, time.Duration(tt.lowShare*float64(step)), step)
					}
					lo, hi = min(lo, d), max(hi, d)
				}
				// The draws must spread over most of the allowed range.
				if spread, allowed := hi-lo, time.Duration((1-tt.lowShare)*float64(step)); float64(spread) < 0.9*float64(allowed) {
					t.Errorf("attempt %d: draws spread over %v, want about %v", attempt, spread, allowed)
				}
			}
		})
	}
}

func TestRetryPolicyValidate(t *testing.T) {
	tests := []struct {
		policy RetryPolicy
		want   string
	}{
		{policy: FixedRetry(10 * time.Millisecond)},
		{policy: ExponentialRetry(100*time.Millisecond, 5*time.Second)},
		{policy: FixedRetry(0), want: "retry interval 0s: want more than 0"},
		{policy: ExponentialRetry(time.Second, time.Millisecond), want: "want a maximum of at least the initial wait"},
		{policy: RetryPolicy{Initial: time.Second, Jitter: 1.5}, want: "retry jitter 1.5: want 0 to 1"},
		{policy: RetryPolicy{Initial: time.Second, Jitter: -0.1}, want: "retry jitter -0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.policy.String(), func(t *testing.T) {
			err := tt.policy.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestRetryPolicyString(t *testing.T) {
	tests := []struct {
		policy RetryPolicy
		want   string
	}{
		{FixedRetry(10 * time.Millisecond), "every 10ms, no backoff"},
		{ExponentialRetry(100*time.Millisecond, 5*time.Second), "exponential backoff from 100ms to 5s, equal jitter"},
	}
	for _, tt := range tests {
		if got := tt.policy.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
