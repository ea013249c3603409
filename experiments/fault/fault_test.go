package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/aftershock-sre/aftershock/experiments/journal"
)

// fakeFault stands in for a real fault to test the fan-out above it.
type fakeFault struct {
	target string
	do     func(ctx context.Context) error
}

func (f *fakeFault) Name() string                     { return "fake" }
func (f *fakeFault) Target() string                   { return f.target }
func (f *fakeFault) Inject(ctx context.Context) error { return f.do(ctx) }
func (f *fakeFault) Revert(ctx context.Context) error { return f.do(ctx) }

func TestFanOutBoundsWidthAndNamesFailedNodes(t *testing.T) {
	for _, width := range []int{1, 4, 32} {
		t.Run(fmt.Sprintf("width %d", width), func(t *testing.T) {
			var running, peak atomic.Int64
			var faults []Fault
			for i := range 40 {
				faults = append(faults, &fakeFault{target: fmt.Sprintf("as-x-n%d", i), do: func(context.Context) error {
					n := running.Add(1)
					defer running.Add(-1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					time.Sleep(2 * time.Millisecond)
					if i%10 == 3 {
						return errors.New("boom")
					}
					return nil
				}})
			}
			for name, fan := range map[string]func(context.Context, []Fault, int) error{"InjectAll": InjectAll, "RevertAll": RevertAll} {
				peak.Store(0)
				err := fan(context.Background(), faults, width)
				if p := peak.Load(); p > int64(width) || (width <= 4 && p != int64(width)) {
					t.Errorf("%s: peak parallelism %d, want %d", name, p, width)
				}
				if _, ok := errors.AsType[*multierror.Error](err); !ok {
					t.Fatalf("%s returned %T (%v), want a *multierror.Error", name, err, err)
				}
				if got, want := FailedTargets(err), []string{"as-x-n3", "as-x-n13", "as-x-n23", "as-x-n33"}; !slices.Equal(got, want) {
					t.Errorf("%s: failed targets %v, want %v", name, got, want)
				}
				if !strings.Contains(err.Error(), "on as-x-n13: boom") {
					t.Errorf("%s: error does not name the node: %v", name, err)
				}
			}
		})
	}
}

func TestFanOutSucceeds(t *testing.T) {
	var done atomic.Int64
	faults := []Fault{
		&fakeFault{target: "a", do: func(context.Context) error { done.Add(1); return nil }},
		&fakeFault{target: "b", do: func(context.Context) error { done.Add(1); return nil }},
	}
	if err := InjectAll(context.Background(), faults, 0); err != nil {
		t.Fatalf("InjectAll = %v", err)
	}
	if done.Load() != 2 {
		t.Fatalf("%d faults ran, want 2", done.Load())
	}
	if err := InjectAll(context.Background(), nil, 8); err != nil {
		t.Fatalf("InjectAll of nothing = %v", err)
	}
}

func TestFanOutCancelledDoesNotStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(1)
	faults := []Fault{&fakeFault{target: "first", do: func(context.Context) error {
		started.Done()
		<-release
		return nil
	}}}
	ran := atomic.Int64{}
	for i := range 3 {
		faults = append(faults, &fakeFault{target: fmt.Sprintf("later-%d", i), do: func(context.Context) error { ran.Add(1); return nil }})
	}
	go func() {
		started.Wait()
		cancel()
		close(release)
	}()
	err := InjectAll(ctx, faults, 1)
	if ran.Load() != 0 {
		t.Errorf("%d faults started after cancellation", ran.Load())
	}
	if got := FailedTargets(err); !slices.Equal(got, []string{"later-0", "later-1", "later-2"}) {
		t.Errorf("failed targets %v, want the three never started", got)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
}

func TestFanOutRecoversPanic(t *testing.T) {
	faults := []Fault{&fakeFault{target: "as-x-n9", do: func(context.Context) error { panic("netlink went away") }}}
	err := RevertAll(context.Background(), faults, 2)
	if got := FailedTargets(err); !slices.Equal(got, []string{"as-x-n9"}) || !strings.Contains(err.Error(), "panic: netlink went away") {
		t.Fatalf("RevertAll = %v, want the panic reported against as-x-n9", err)
	}
}

func TestTargetErrorIsNotDoubled(t *testing.T) {
	inner := &TargetError{Op: "inject", Fault: NetworkdRestartName, Target: "as-x-n3", Err: errors.New("flush rules: boom")}
	f := &fakeFault{target: "as-x-n3", do: func(context.Context) error { return inner }}
	err := InjectAll(context.Background(), []Fault{f}, 1)
	if n := strings.Count(err.Error(), "as-x-n3"); n != 1 {
		t.Fatalf("error names the node %d times: %v", n, err)
	}
	if te, ok := errors.AsType[*TargetError](err); !ok || te != inner {
		t.Fatalf("the fault's own TargetError was not kept: %v", err)
	}
}

func TestFromJournal(t *testing.T) {
	snap, _ := json.Marshal(NetworkdSnapshot{Version: snapshotVersion, Rules: []RuleRecord{{Family: "inet", Priority: 111, Action: 1, Table: 2004}}})
	good := journal.Entry{ID: "r/n/networkd-restart/1", Fault: NetworkdRestartName, Node: "as-x-n1", NetNS: "/run/netns/as-x-n1", State: journal.StateInjected, Snapshot: snap}
	with := func(edit func(*journal.Entry)) journal.Entry { e := good; edit(&e); return e }
	tests := []struct {
		name    string
		entry   journal.Entry
		wantErr string
	}{
		{"networkd restart", good, ""},
		{"unknown fault", with(func(e *journal.Entry) { e.Fault = "reboot-the-sun" }), "unknown fault"},
		{"no snapshot", with(func(e *journal.Entry) { e.Snapshot = nil }), "no snapshot"},
		{"bad snapshot", with(func(e *journal.Entry) { e.Snapshot = json.RawMessage(`{"rules":7}`) }), "snapshot"},
		{"future snapshot", with(func(e *journal.Entry) { e.Snapshot = json.RawMessage(`{"version":99}`) }), "version 99"},
		{"no namespace", with(func(e *journal.Entry) { e.NetNS = "" }), "no network namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := FromJournal(tt.entry, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("FromJournal = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			nr, ok := f.(*NetworkdRestart)
			if !ok || nr.Target() != "as-x-n1" || nr.ID != good.ID || nr.NetNSPath != good.NetNS {
				t.Fatalf("FromJournal = %#v", f)
			}
			if s, ok := nr.Snapshot(); !ok || len(s.Rules) != 1 || s.Rules[0].Table != 2004 {
				t.Fatalf("snapshot %+v, %v", s, ok)
			}
		})
	}
}

func TestRevertBeforeInjectIsNoop(t *testing.T) {
	f := NewNetworkdRestart("as-x-n1", "/run/netns/does-not-matter", DefaultNetworkdConfig(), nil, "")
	if err := f.Revert(context.Background()); err != nil {
		t.Fatalf("Revert before Inject = %v", err)
	}
	if _, ok := f.Snapshot(); ok {
		t.Fatal("Revert before Inject made a snapshot")
	}
}

func TestInjectMissingNamespace(t *testing.T) {
	f := NewNetworkdRestart("as-x-n404", "/run/netns/as-ftest-never-created", DefaultNetworkdConfig(), nil, "")
	err := f.Inject(context.Background())
	if !errors.Is(err, ErrTargetGone) || !strings.Contains(err.Error(), "on as-x-n404") {
		t.Fatalf("Inject = %v, want ErrTargetGone naming the node", err)
	}
	if err := f.Revert(context.Background()); err != nil {
		t.Fatalf("Revert after a failed Inject = %v", err)
	}
}

func TestInjectNeedsIDWithJournal(t *testing.T) {
	j, err := journal.Open(t.TempDir() + "/j")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	f := NewNetworkdRestart("as-x-n1", "/run/netns/x", DefaultNetworkdConfig(), j, "")
	if err := f.Inject(context.Background()); err == nil || !strings.Contains(err.Error(), "needs an ID") {
		t.Fatalf("Inject = %v, want a missing-ID error", err)
	}
}
