package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments/journal"
)

// TestRunAbortsOnSignal interrupts a run in the middle of its fault, with
// SIGINT (Ctrl-C) and with SIGTERM (systemd, Kubernetes, CI timeouts), and
// once while the fault is still spreading over its window: the run stops
// injecting, reverts every fault in place (the journal says so, and says it
// happened before the lab went away), tears the lab down within 10 seconds,
// exits non-zero saying "aborted", and leaves no namespace, lab process or
// folder behind.
func TestRunAbortsOnSignal(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name    string
		sig     syscall.Signal
		feature string
		// injected is how many injections the run has made when the
		// signal comes; with a window, the others must never start.
		injected int
	}{
		{"SIGINT with every fault in place", syscall.SIGINT, pausedFault, 4},
		{"SIGTERM with every fault in place", syscall.SIGTERM, pausedFault, 4},
		// With seed 1 the starts are T+11.7s, 19.2s, 19.4s and 41.9s
		// (aftershock plan shows them): the signal comes between the
		// first and the second.
		{"SIGTERM while the fault is spreading", syscall.SIGTERM,
			strings.Replace(pausedFault, "in all regions\n", "in all regions within 60 seconds\n", 1), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startRun(t, tt.feature)
			pending := r.waitInjected(t, tt.injected)
			runs := r.labRuns()
			if len(runs) != 1 {
				t.Fatalf("labs under %s: %v, want one", r.stateRoot(), runs)
			}
			time.Sleep(time.Second) // in the middle of the fault

			err, took := r.signal(t, tt.sig, 10*time.Second)
			t.Logf("exited %s after %v: %v", took.Round(time.Millisecond), tt.sig, err)
			if err == nil {
				t.Errorf("a run stopped by %v exited 0:\n%s", tt.sig, r.out.String())
			}
			if !strings.Contains(r.out.String(), "aborted") {
				t.Errorf("the run does not say it aborted:\n%s", r.out.String())
			}
			entries, jerr := journal.Read(r.journalPath())
			if jerr != nil {
				t.Fatal(jerr)
			}
			if p := journal.Pending(entries); len(p) != 0 {
				t.Errorf("faults left in place after %v: %+v", tt.sig, p)
			}
			last := map[string]journal.Entry{}
			for _, e := range faultEntries(entries) {
				last[e.ID] = e
			}
			if len(last) != tt.injected {
				t.Errorf("%d injections journalled, want the %d made before %v and no more", len(last), tt.injected, tt.sig)
			}
			for _, e := range pending {
				// "target gone" would mean the lab went first.
				if got := last[e.ID]; got.State != journal.StateReverted || got.Error != "" {
					t.Errorf("%s ended %s %q, want reverted in place", e.Node, got.State, got.Error)
				}
			}
			assertNothingLeft(t, r.stateRoot(), runs[0])
		})
	}
}
