package cloud_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/infra/cloud"
)

func TestClientRetryUntil(t *testing.T) {
	stuck := cloud.Limits{CreateNetworkInterface: cloud.Rate{PerSecond: 0.001, Burst: 1}}
	tests := []struct {
		name        string
		policy      cloud.RetryPolicy
		liftAfter   time.Duration // 0: the limit is never lifted
		timeout     time.Duration
		instance    string // "": a running instance, throttled
		wantErr     error
		minAttempts int
		maxAttempts int
	}{
		{
			name: "fixed retry succeeds after throttling ends", policy: cloud.FixedRetry(10 * time.Millisecond),
			liftAfter: 300 * time.Millisecond, timeout: 5 * time.Second, minAttempts: 10, maxAttempts: 35,
		},
		{
			// Waits of 10, 20, 40, 40... ms with equal jitter: far fewer calls.
			name: "exponential retry succeeds with fewer attempts", policy: cloud.ExponentialRetry(10*time.Millisecond, 40*time.Millisecond),
			liftAfter: 300 * time.Millisecond, timeout: 5 * time.Second, minAttempts: 4, maxAttempts: 18,
		},
		{
			name: "gives up when the context ends", policy: cloud.FixedRetry(10 * time.Millisecond),
			timeout: 200 * time.Millisecond, wantErr: context.DeadlineExceeded, minAttempts: 5, maxAttempts: 25,
		},
		{
			name: "does not retry what is not throttling", policy: cloud.FixedRetry(10 * time.Millisecond),
			timeout: 5 * time.Second, instance: "i-00000000000000000", wantErr: cloud.ErrNotFound, minAttempts: 1, maxAttempts: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			api, url := startAPI(t, cloud.Limits{}, nil)
			c := cloud.NewClient(url, "cilium-operator", nil)
			c.Seed(42)
			ids, err := c.RunInstances(ctx, "us1", 1)
			if err != nil {
				t.Fatalf("RunInstances: %v", err)
			}
			id := ids[0]
			if tt.instance != "" {
				id = tt.instance
			}
			spent := int64(0)
			if tt.instance == "" { // throttle: spend the only token
				if err := api.SetLimits(stuck); err != nil {
					t.Fatalf("SetLimits: %v", err)
				}
				if _, err := c.CreateNetworkInterface(ctx, id); err != nil {
					t.Fatalf("spend the only token: %v", err)
				}
				spent = 1
			}
			if tt.liftAfter > 0 {
				lift := time.AfterFunc(tt.liftAfter, func() {
					if err := api.SetLimits(cloud.Limits{}); err != nil {
						t.Errorf("SetLimits: %v", err)
					}
				})
				defer lift.Stop()
			}

			ctx, cancel := context.WithTimeout(ctx, tt.timeout)
			defer cancel()
			var eni string
			attempts, err := c.RetryUntil(ctx, tt.policy, func(ctx context.Context) error {
				var err error
				eni, err = c.CreateNetworkInterface(ctx, id)
				return err
			})
			if tt.wantErr == nil {
				if err != nil || eni == "" {
					t.Fatalf("RetryUntil = %d, %v; want an ENI", attempts, err)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Fatalf("RetryUntil = %d, %v; want %v", attempts, err, tt.wantErr)
			}
			if tt.wantErr == context.DeadlineExceeded && !errors.Is(err, cloud.ErrThrottled) {
				t.Errorf("RetryUntil = %v, want it to carry the last ErrThrottled too", err)
			}
			if attempts < tt.minAttempts || attempts > tt.maxAttempts {
				t.Errorf("%d attempts, want %d to %d", attempts, tt.minAttempts, tt.maxAttempts)
			}
			// Every attempt reached the API: the retries are real calls. The
			// deadline may cut the last attempt short before it arrives.
			s := api.Stats()[cloud.APICreateNetworkInterface]
			lost := int64(0)
			if tt.wantErr == context.DeadlineExceeded && s.Calls == int64(attempts)+spent-1 {
				lost = 1
			}
			if s.Calls != int64(attempts)+spent-lost {
				t.Errorf("API counted %d calls, want %d attempts and %d spent", s.Calls, attempts, spent)
			}
			if tt.wantErr == nil && s.Throttled != int64(attempts-1) {
				t.Errorf("API counted %d throttled, want %d", s.Throttled, attempts-1)
			}
		})
	}
}

func TestClientRetryUntilRejectsBadPolicy(t *testing.T) {
	c := cloud.NewClient("http://127.0.0.1:1", "x", nil)
	called := false
	n, err := c.RetryUntil(context.Background(), cloud.FixedRetry(0), func(context.Context) error {
		called = true
		return nil
	})
	if err == nil || n != 0 || called {
		t.Errorf("RetryUntil with a zero interval = %d, %v (called %v); want an error before any attempt", n, err, called)
	}
}

func TestClientTransportError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := cloud.NewClient("http://127.0.0.1:1", "x", nil)
	err := c.Do(ctx, cloud.APIDescribeInstances, nil, nil)
	if !errors.Is(err, context.Canceled) || cloud.Retryable(err) {
		t.Errorf("Do with a cancelled context = %v, want context.Canceled, not retryable", err)
	}
}
