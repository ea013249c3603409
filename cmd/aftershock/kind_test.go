package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aftershock-sre/aftershock/infra/kind/kindtest"
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

// kindContainers lists every kind node container on the engine.
func kindContainers(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster", "--format", "{{.Names}}").Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}
