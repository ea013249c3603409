package main

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments/journal"
)

// TestCleanupAfterSIGKILL kills the runner with SIGKILL in the middle of its
// fault, as the OOM killer would: nothing of the run gets to revert or tear
// down. `aftershock cleanup --journal` then reverts every rule, exactly as
// it was before the fault, before it tears the lab down, and leaves no
// namespace, lab process or folder behind.
func TestCleanupAfterSIGKILL(t *testing.T) {
	requireRoot(t)
	r := startRun(t, pausedFault)
	r.waitFor(t, "pause before the fault", 3*time.Minute, func() bool { return strings.Contains(r.out.String(), pauseStarted) })
	runs := r.labRuns()
	if len(runs) != 1 {
		t.Fatalf("labs under %s: %v, want one", r.stateRoot(), runs)
	}
	runID := runs[0]
	held := holdNamespaces(t, runID)
	before := map[string]string{}
	for node := range held {
		if node != "fabric" {
			before[node] = held.rules(t, node)
		}
	}
	if entries, _ := journal.Read(r.journalPath()); len(faultEntries(entries)) > 0 {
		t.Fatal("the fault began before the rules were recorded: lengthen the pause")
	}
	if len(before) != 4 {
		t.Fatalf("lab %s has nodes %v, want 4", runID, before)
	}

	pending := r.waitInjected(t, len(before))
	for node := range before {
		if held.rules(t, node) == before[node] {
			t.Fatalf("%s's rules were not flushed by the fault", node)
		}
	}
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r.done
	var exit *exec.ExitError
	if !errors.As(r.exit, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the runner exited with %v, want death by SIGKILL", r.exit)
	}
	if left := labNamespaces(t, runID); len(left) != len(held) {
		t.Fatalf("after SIGKILL the lab has namespaces %v, want all %d still there", left, len(held))
	}

	out, err := runIn(t, r.tmp, "cleanup", "--journal", r.journalPath())
	if err != nil {
		t.Fatalf("cleanup: %v\n%s", err, out)
	}
	t.Logf("cleanup:\n%s", out)
	down := strings.Index(out, "lab "+runID+" torn down")
	if down < 0 {
		t.Fatalf("cleanup does not say it tore lab %s down:\n%s", runID, out)
	}
	for _, e := range pending {
		line := "reverted networkd-restart on " + e.Node + ": "
		at := strings.Index(out, line)
		switch {
		case at < 0:
			t.Errorf("cleanup does not say it reverted %s:\n%s", e.Node, out)
		case at > down:
			t.Errorf("%s was reverted after the lab was torn down:\n%s", e.Node, out)
		}
	}
	// Every rule is back exactly, in the very namespaces the fault hit.
	for node, want := range before {
		if got := held.rules(t, node); got != want {
			t.Errorf("%s's rules after cleanup:\n%s\nwant, as before the fault:\n%s", node, got, want)
		}
	}
	entries, err := journal.Read(r.journalPath())
	if err != nil {
		t.Fatal(err)
	}
	if p := journal.Pending(entries); len(p) != 0 {
		t.Errorf("the journal still has pending injections: %+v", p)
	}
	for _, e := range faultEntries(entries) {
		if e.State == journal.StateReverted && e.Error != "" {
			t.Errorf("%s was not restored in place: %s", e.Node, e.Error)
		}
	}
	assertNothingLeft(t, r.stateRoot(), runID)

	// Like rm -f: a second cleanup has nothing to do, and says so.
	out, err = runIn(t, r.tmp, "cleanup", "--journal", r.report)
	if err != nil || !strings.Contains(out, "0 injection(s) pending") {
		t.Errorf("second cleanup: %v\n%s", err, out)
	}
}
