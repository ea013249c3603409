package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aftershock-sre/aftershock/infra/terraform"
)

// TestFlagshipOnTerraform runs apt-ocalypse.feature with --infra terraform
// against examples/terraform/lab: Terraform applies the lab module (the lab
// through `aftershock lab` subcommands), the run learns the fleet from the
// module's aftershock_fleet output, injects through each node's exec
// command, and destroys the module at the end.
func TestFlagshipOnTerraform(t *testing.T) {
	requireRoot(t)
	if _, err := terraform.FindBinary(t.Context()); err != nil {
		t.Fatalf("no terraform (make deps installs one): %v", err)
	}
	moduleDir, err := filepath.Abs("../../examples/terraform/lab")
	if err != nil {
		t.Fatal(err)
	}
	feature, err := filepath.Abs("../../features/apt-ocalypse.feature")
	if err != nil {
		t.Fatal(err)
	}
	reportDir := t.TempDir()
	t.Cleanup(func() {
		for _, f := range []string{".terraform", ".terraform.lock.hcl", "terraform.tfstate", "terraform.tfstate.backup"} {
			_ = os.RemoveAll(filepath.Join(moduleDir, f))
		}
	})
	out, err := run(t, "run", feature, "--infra", "terraform", "--tf-dir", moduleDir,
		"--tf-apply", "--tf-destroy", "--tf-topology-var", "topology_file",
		"--tf-var", "aftershock="+filepath.Join(binDir, "aftershock"), "--tf-var", "aftershock_game_day=true",
		"--allow-global-blast-radius", "--report-dir", reportDir)
	if err != nil {
		t.Fatalf("apt-ocalypse on terraform failed: %v\n%s", err, tail(out, 60))
	}
	summary, err := os.ReadFile(filepath.Join(reportDir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"provider terraform", "| ✅ passed |", "networkd-restart 18 injected"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary.md does not show %q:\n%s", want, summary)
		}
	}
	state, err := os.ReadFile(filepath.Join(moduleDir, "terraform.tfstate"))
	if err != nil || !strings.Contains(string(state), `"resources": []`) {
		t.Errorf("the module was not destroyed (%v):\n%s", err, state)
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
