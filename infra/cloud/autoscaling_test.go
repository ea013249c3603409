package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/infra/cloud"
)

// fakeMachines is a fleet in memory: the logic above the fleet boundary.
// The cloud API the group calls is real.
type fakeMachines struct {
	mu         sync.Mutex
	broken     map[string]bool
	terminated []string
	launched   []string
}

func (m *fakeMachines) StatusCheck(_ context.Context, node string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.broken[node] {
		return errors.New("no answer")
	}
	return nil
}

func (m *fakeMachines) Terminate(_ context.Context, node string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.terminated = append(m.terminated, node)
	return nil
}

func (m *fakeMachines) Launch(_ context.Context, group, instanceID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name := fmt.Sprintf("%s-new%d", group, len(m.launched))
	m.launched = append(m.launched, name)
	return name, nil
}

func TestAutoScalingGroupReplacesAfterConsecutiveFailures(t *testing.T) {
	api, url := startAPI(t, cloud.Limits{RunInstances: cloud.Rate{PerSecond: 2, Burst: 1}}, nil)
	machines := &fakeMachines{broken: map[string]bool{"w1": true, "w2": true}}
	var mu sync.Mutex
	var steps []cloud.Replacement
	g := &cloud.AutoScalingGroup{
		Region: "us1", API: cloud.NewClient(url, "asg", nil), Machines: machines,
		FailedChecks: 3, CheckInterval: 20 * time.Millisecond,
		Retry: cloud.ExponentialRetry(10*time.Millisecond, 100*time.Millisecond),
		Observe: func(r cloud.Replacement) {
			mu.Lock()
			steps = append(steps, r)
			mu.Unlock()
		},
	}
	ids := api.Adopt("us1", 3)
	for i, n := range []string{"w0", "w1", "w2"} {
		g.Adopt(n, "app1", ids[i])
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := 0
		for _, s := range steps {
			if s.State == cloud.StateUnregistered {
				n++
			}
		}
		mu.Unlock()
		if n == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	machines.mu.Lock()
	defer machines.mu.Unlock()
	if len(machines.terminated) != 2 || len(machines.launched) != 2 {
		t.Fatalf("terminated %v, launched %v; want w1 and w2 replaced, w0 kept", machines.terminated, machines.launched)
	}
	members := g.Members()
	if _, ok := members["w0"]; !ok || len(members) != 3 {
		t.Errorf("members %v: want w0 and the two new nodes", members)
	}
	if _, ok := members["w1"]; ok {
		t.Error("w1 is still a member after its replacement")
	}
	live := map[string]bool{}
	for _, in := range api.Instances() {
		live[in.ID] = true
	}
	if live[ids[1]] || live[ids[2]] || !live[ids[0]] || len(live) != 3 {
		t.Errorf("instances %v: want w0's and two new ones, not w1's or w2's", live)
	}
	mu.Lock()
	defer mu.Unlock()
	var sawNotStarted int
	for _, s := range steps {
		if s.Err != nil {
			t.Errorf("replacement failed: %v", s.Err)
		}
		if s.State == cloud.StateNotStarted {
			sawNotStarted++
		}
	}
	if sawNotStarted != 2 {
		t.Errorf("%d NotStarted steps, want 2", sawNotStarted)
	}
}

// TestAutoScalingGroupWaitsForThreeFailuresInARow: a node that fails twice,
// recovers, and fails twice again is never replaced.
func TestAutoScalingGroupWaitsForThreeFailuresInARow(t *testing.T) {
	_, url := startAPI(t, cloud.Limits{}, nil)
	machines := &flappingMachines{fakeMachines: fakeMachines{broken: map[string]bool{}}}
	g := &cloud.AutoScalingGroup{Region: "us1", API: cloud.NewClient(url, "asg", nil), Machines: machines,
		FailedChecks: 3, CheckInterval: 5 * time.Millisecond, Retry: cloud.FixedRetry(time.Millisecond)}
	g.Adopt("w0", "app1", "i-0")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := g.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(machines.launched) != 0 || machines.checks < 10 {
		t.Errorf("%d checks, launched %v: want many checks and no replacement", machines.checks, machines.launched)
	}
}

// flappingMachines fails two checks out of three.
type flappingMachines struct {
	fakeMachines
	checks int
}

func (m *flappingMachines) StatusCheck(context.Context, string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checks++
	if m.checks%3 == 0 {
		return nil
	}
	return errors.New("no answer")
}

func TestAutoScalingGroupScaleUpAndValidate(t *testing.T) {
	_, url := startAPI(t, cloud.Limits{RunInstances: cloud.Rate{PerSecond: 50, Burst: 2}}, nil)
	machines := &fakeMachines{}
	g := &cloud.AutoScalingGroup{Region: "us1", API: cloud.NewClient(url, "asg", nil), Machines: machines,
		FailedChecks: 1, CheckInterval: time.Second, Retry: cloud.ExponentialRetry(5*time.Millisecond, 50*time.Millisecond)}
	names, err := g.ScaleUp(context.Background(), "app1", 6)
	if err != nil || len(names) != 6 || len(g.Members()) != 6 {
		t.Fatalf("ScaleUp: %v, %v, members %v: want 6 nodes through a throttled RunInstances", names, err, g.Members())
	}
	if _, err := g.ScaleUp(context.Background(), "app1", 0); err == nil {
		t.Error("a scale-up by 0 nodes was accepted")
	}
	bad := &cloud.AutoScalingGroup{API: g.API, Machines: machines, CheckInterval: time.Second, Retry: g.Retry}
	if err := bad.Validate(); err == nil {
		t.Error("0 failed checks accepted")
	}
}
