package action

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// recordingFleet is a fake above the fleet boundary: it records the order and
// overlap of reboots; the lab's real Reboot is tested in infra/lab.
type recordingFleet struct {
	mu               sync.Mutex
	running, maxSeen int
	finished         map[string]time.Time
	started          map[string]time.Time
	fail             string
}

func (f *recordingFleet) Reboot(_ context.Context, node string) error {
	f.mu.Lock()
	f.running++
	f.maxSeen = max(f.maxSeen, f.running)
	f.started[node] = time.Now()
	f.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running--
	f.finished[node] = time.Now()
	if node == f.fail {
		return errors.New("instance did not come back")
	}
	return nil
}

func nodes(names ...string) []infra.Node {
	out := make([]infra.Node, len(names))
	for i, n := range names {
		out[i] = infra.Node{Node: topology.Node{Name: n}}
	}
	return out
}

func TestRebootInOrder(t *testing.T) {
	groups := []Group{
		{Name: "parent control-plane nodes", Nodes: nodes("cp0", "cp1")},
		{Name: "parent workers", Nodes: nodes("w0", "w1", "w2", "w3", "w4")},
		{Name: "child cluster nodes", Nodes: nodes("n0", "n1", "n2")},
	}
	tests := []struct {
		name     string
		parallel int
		fail     string
		wantErr  string
	}{
		{name: "one at a time", parallel: 1},
		{name: "four at a time", parallel: 4},
		{name: "a failed reboot is named and later groups still go", parallel: 2, fail: "w3", wantErr: "reboot w3 (parent workers): instance did not come back"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &recordingFleet{finished: map[string]time.Time{}, started: map[string]time.Time{}, fail: tt.fail}
			tl := experiments.NewTimeline(nil)
			var awaited [][]string
			await := func(_ context.Context, nodes []string) error {
				awaited = append(awaited, nodes)
				return nil
			}
			err := RebootInOrder(context.Background(), f, groups, Procedure{Parallel: tt.parallel, AwaitReady: await}, tl)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if f.maxSeen > tt.parallel {
				t.Errorf("%d reboots ran at once, limit %d", f.maxSeen, tt.parallel)
			}
			for i := 1; i < len(groups); i++ {
				for _, prev := range groups[i-1].Nodes {
					for _, next := range groups[i].Nodes {
						if f.started[next.Name].Before(f.finished[prev.Name]) {
							t.Errorf("%s (%s) started before %s (%s) finished", next.Name, groups[i].Name, prev.Name, groups[i-1].Name)
						}
					}
				}
			}
			if len(awaited) != len(groups) || !slices.Equal(awaited[0], []string{"cp0", "cp1"}) {
				t.Errorf("awaited readiness of %v, want each group's nodes in turn", awaited)
			}
			var started, ended int
			for _, e := range tl.Events() {
				if e.Kind == experiments.KindAction && e.Name == "reboot" {
					switch e.Status {
					case "started":
						started++
					case "finished", "failed":
						ended++
					}
				}
			}
			if started != 10 || ended != 10 {
				t.Errorf("timeline has %d started and %d ended reboots, want 10 and 10", started, ended)
			}
		})
	}
	if err := RebootInOrder(context.Background(), &recordingFleet{}, groups, Procedure{}, experiments.NewTimeline(nil)); err == nil {
		t.Error("parallelism 0 accepted")
	}
}

// A group that does not come back is reported, and the next group still
// goes: operators move on after the wait.
func TestRebootInOrderAwaitFails(t *testing.T) {
	groups := []Group{{Name: "parent control-plane nodes", Nodes: nodes("cp0")}, {Name: "parent workers", Nodes: nodes("w0")}}
	f := &recordingFleet{finished: map[string]time.Time{}, started: map[string]time.Time{}}
	tl := experiments.NewTimeline(nil)
	await := func(_ context.Context, nodes []string) error {
		if nodes[0] == "cp0" {
			return errors.New("cp0 still NotReady after 2m0s")
		}
		return nil
	}
	err := RebootInOrder(context.Background(), f, groups, Procedure{Parallel: 1, AwaitReady: await}, tl)
	if err == nil || !strings.Contains(err.Error(), "parent control-plane nodes not Ready after their reboots: cp0 still NotReady") {
		t.Errorf("error %v does not name the group and node", err)
	}
	if _, ok := f.finished["w0"]; !ok {
		t.Error("the next group was not rebooted")
	}
	if len(tl.Kinds(experiments.KindAction)) != 5 {
		t.Errorf("timeline %v: want 2 reboots started and finished and one failed wait", tl.Kinds(experiments.KindAction))
	}
}
