package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments/journal"
	"github.com/aftershock-sre/aftershock/infra/kind"
	"github.com/aftershock-sre/aftershock/infra/kind/kindtest"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// TestKindFlagship runs apt-ocalypse.feature with --infra kind on the small
// CI fleet of examples/kind/ci-fleet.yaml: real kind clusters, the networkd
// fault through each node container's network namespace, reboots as
// container restarts, the same verdicts as on the lab, and every cluster
// deleted at the end.
func TestKindFlagship(t *testing.T) {
	image := kindtest.Require(t)
	feature, err := filepath.Abs("../../features/apt-ocalypse.feature")
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := filepath.Abs("../../examples/kind/ci-fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	before := kindContainers(t)
	reportDir := t.TempDir()
	out, err := run(t, "run", feature, "--infra", "kind", "--kind-image", image, "--topology", fleet,
		"--report-dir", reportDir)
	if err != nil {
		t.Errorf("apt-ocalypse on kind failed: %v\n%s", err, tail(out, 80))
	}
	if left := slices.DeleteFunc(kindContainers(t), func(c string) bool { return slices.Contains(before, c) }); len(left) > 0 {
		t.Errorf("the run left kind node containers behind: %v", left)
	}
	if t.Failed() {
		return
	}
	summary, err := os.ReadFile(filepath.Join(reportDir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"provider kind", "| ✅ passed |", "networkd-restart 4 injected"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary.md does not show %q:\n%s", want, summary)
		}
	}
}

// TestKindCleanupAfterSIGKILL kills a runner on kind with SIGKILL in the
// middle of its fault: the node containers and their flushed rules outlive
// it. `aftershock cleanup --journal` then reverts every injection in the
// containers' namespaces, deletes the run's clusters and networks, and
// leaves no container, network or state folder behind.
func TestKindCleanupAfterSIGKILL(t *testing.T) {
	image := kindtest.Require(t)
	tiny, err := topology.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	before := kindContainers(t)
	r := startRunWith(t, pausedFault, "--infra", "kind", "--kind-image", image, "--preset", "tiny")
	r.waitFor(t, "pause before the fault", 10*time.Minute, func() bool { return strings.Contains(r.out.String(), pauseStarted) })
	pending := r.waitInjected(t, len(tiny.Nodes()))
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r.done
	stateRoot := filepath.Join(r.tmp, "aftershock-kind")
	runs, _ := os.ReadDir(stateRoot)
	if len(runs) != 1 {
		t.Fatalf("kind runs under %s: %v, want one", stateRoot, runs)
	}
	runID := runs[0].Name()
	mine := func() []string {
		return slices.DeleteFunc(kindContainers(t), func(c string) bool {
			return slices.Contains(before, c) || !strings.HasPrefix(c, kind.RunPrefix(runID))
		})
	}
	if len(mine()) == 0 {
		t.Fatal("the run's node containers died with the runner: nothing to clean up")
	}

	out, err := runIn(t, r.tmp, "cleanup", "--journal", r.journalPath())
	if err != nil {
		t.Fatalf("cleanup: %v\n%s", err, out)
	}
	t.Logf("cleanup:\n%s", out)
	down := strings.Index(out, "kind run "+runID+" torn down")
	if down < 0 {
		t.Fatalf("cleanup does not say it tore kind run %s down:\n%s", runID, out)
	}
	for _, e := range pending {
		at := strings.Index(out, "reverted networkd-restart on "+e.Node+": ")
		if at < 0 || at > down {
			t.Errorf("cleanup did not revert %s before the teardown:\n%s", e.Node, out)
		}
	}
	entries, err := journal.Read(r.journalPath())
	if err != nil {
		t.Fatal(err)
	}
	if p := journal.Pending(entries); len(p) != 0 {
		t.Errorf("the journal still has pending entries: %+v", p)
	}
	if left := mine(); len(left) > 0 {
		t.Errorf("node containers left: %v", left)
	}
	if nets, err := exec.Command("docker", "network", "ls", "--filter", "name="+kind.RunPrefix(runID), "--format", "{{.Name}}").Output(); err != nil || len(strings.Fields(string(nets))) > 0 {
		t.Errorf("networks left (%v): %s", err, nets)
	}
	if _, err := os.Stat(filepath.Join(stateRoot, runID)); !os.IsNotExist(err) {
		t.Errorf("state folder of run %s left (%v)", runID, err)
	}
}

// kindContainers lists every kind node container on the engine.
func kindContainers(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster", "--format", "{{.Names}}").Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}
