package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments/journal"
)

// The crash, signal and bad-input tests run `aftershock` as users do, each
// in a TMPDIR of its own, so that the lab's state root (TMPDIR/aftershock)
// belongs to the test alone and nothing is mistaken for another test's lab.

// pausedFault is a small fleet that pauses before its fault (so that the
// test can record the nodes' rules) and holds the fault for minutes (so that
// the test can kill or interrupt the run in the middle of it).
const pausedFault = `Feature: interrupted in the middle of a fault
  Scenario: the runner is stopped while the rules are flushed
    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | eu1    | gcp   | 1                          | 1              | 1              | 2                       |
    And all nodes are Ready
    When operators take 10 seconds to react
    And systemd-networkd restarts on 100% of nodes in all regions
    And operators take 5 minutes to react
`

// The live status line printed when the pause before the fault starts.
const pauseStarted = "step 3: operators take 10 seconds to react"

// liveRun is `aftershock run` running in the background.
type liveRun struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	tmp    string // the run's TMPDIR
	report string

	mu   sync.Mutex
	exit error
	done chan struct{}
}

// shortTempDir is a TMPDIR short enough for the lab's socket paths.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "as-t")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// env is the environment of a command run in tmp: its TMPDIR, and the
// Kubernetes binaries of this checkout wherever it runs.
func env(t *testing.T, tmp string) []string {
	t.Helper()
	cache, err := filepath.Abs(filepath.Join("..", "..", ".cache"))
	if err != nil {
		t.Fatal(err)
	}
	e := append(os.Environ(), "TMPDIR="+tmp)
	if os.Getenv("AFTERSHOCK_CACHE") == "" {
		e = append(e, "AFTERSHOCK_CACHE="+cache)
	}
	return e
}

// startRun starts `aftershock run` on a feature with this body.
func startRun(t *testing.T, body string) *liveRun {
	t.Helper()
	return startRunWith(t, body)
}

// startRunWith is startRun with more flags for `aftershock run`.
func startRunWith(t *testing.T, body string, flags ...string) *liveRun {
	t.Helper()
	tmp := shortTempDir(t)
	feature := filepath.Join(tmp, "interrupted.feature")
	if err := os.WriteFile(feature, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &liveRun{out: &lockedBuffer{}, tmp: tmp, report: filepath.Join(tmp, "report"), done: make(chan struct{})}
	r.cmd = exec.Command(filepath.Join(binDir, "aftershock"), append([]string{"run", feature, "--report-dir", r.report}, flags...)...)
	r.cmd.Env = env(t, tmp)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := r.cmd.Wait()
		r.mu.Lock()
		r.exit = err
		r.mu.Unlock()
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
		// Whatever a failed test left: tear down the labs of this
		// test's state root, and only those.
		for _, id := range r.labRuns() {
			_, _ = runIn(t, tmp, "lab", "down", "--run", id, "--state-root", r.stateRoot())
		}
	})
	return r
}

func (r *liveRun) stateRoot() string { return filepath.Join(r.tmp, "aftershock") }

// labRuns lists the run IDs of the labs under the run's state root.
func (r *liveRun) labRuns() []string {
	entries, _ := os.ReadDir(r.stateRoot())
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	sort.Strings(ids)
	return ids
}

func (r *liveRun) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// waitFor polls cond until it holds, failing the test after timeout or if
// the run exits first.
func (r *liveRun) waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if r.exited() {
			t.Fatalf("the run exited (%v) before %s:\n%s", r.exit, what, r.out.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s:\n%s", what, timeout, r.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// journalPath is the run's injection journal (one scenario).
func (r *liveRun) journalPath() string { return filepath.Join(r.report, "scenario-1.jsonl") }

// waitInjected waits until the journal records n injections, all injected.
func (r *liveRun) waitInjected(t *testing.T, n int) []journal.Entry {
	t.Helper()
	var pending []journal.Entry
	r.waitFor(t, "journal of every injection", 2*time.Minute, func() bool {
		entries, err := journal.Read(r.journalPath())
		if err != nil {
			return false
		}
		pending = faultEntries(journal.Pending(entries))
		if len(pending) != n {
			return false
		}
		for _, e := range pending {
			if e.State != journal.StateInjected {
				return false
			}
		}
		return true
	})
	return pending
}

// faultEntries leaves out the journal's fleet entry: the run journals its
// lab before any fault, so that cleanup can tear it down.
func faultEntries(entries []journal.Entry) []journal.Entry {
	var out []journal.Entry
	for _, e := range entries {
		if e.Fault != journal.FleetFault {
			out = append(out, e)
		}
	}
	return out
}

// signal sends sig to the run and waits up to limit for it to exit.
func (r *liveRun) signal(t *testing.T, sig syscall.Signal, limit time.Duration) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.done:
	case <-time.After(limit):
		_ = r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("the run did not exit within %s of %v:\n%s", limit, sig, r.out.String())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exit, time.Since(start)
}

// runIn executes aftershock in the environment of a live run's TMPDIR.
func runIn(t *testing.T, tmp string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "aftershock"), args...)
	cmd.Env = env(t, tmp)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// heldNamespaces keeps every namespace of a lab alive by holding it open,
// even after the lab's teardown removes their names, so that the test can
// still read what the cleanup left in them.
type heldNamespaces map[string]*os.File // by node name ("fabric" too)

func holdNamespaces(t *testing.T, runID string) heldNamespaces {
	t.Helper()
	held := heldNamespaces{}
	for _, name := range labNamespaces(t, runID) {
		f, err := os.Open(filepath.Join("/run/netns", name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		held[strings.TrimPrefix(name, "as-"+runID+"-")] = f
	}
	return held
}

// rules is a held namespace's routing-policy rules as iproute2 prints them.
func (h heldNamespaces) rules(t *testing.T, node string) string {
	t.Helper()
	var b strings.Builder
	for _, family := range []string{"-4", "-6"} {
		cmd := exec.Command("nsenter", "--net=/proc/self/fd/3", "ip", "-d", family, "rule", "show")
		cmd.ExtraFiles = []*os.File{h[node]}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("rules of %s: %v: %s", node, err, out)
		}
		b.Write(out)
	}
	return b.String()
}

// assertNothingLeft checks that a lab left no namespace, process or folder.
func assertNothingLeft(t *testing.T, stateRoot, runID string) {
	t.Helper()
	if left := labNamespaces(t, runID); len(left) > 0 {
		t.Errorf("namespaces of lab %s left: %v", runID, left)
	}
	dir := filepath.Join(stateRoot, runID)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("lab folder %s left (%v)", dir, err)
	}
	if pids := processesMentioning(dir); len(pids) > 0 {
		t.Errorf("processes of lab %s left: %v", runID, pids)
	}
	if _, err := os.Stat(stateRoot); !os.IsNotExist(err) {
		t.Errorf("state root %s left (%v)", stateRoot, err)
	}
}
