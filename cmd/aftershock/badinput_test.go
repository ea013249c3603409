package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBadInputIsExplainedAndCreatesNothing feeds the CLI malformed feature
// files, topology files and flags. Each fails with a message naming the
// problem, and the file and line when there is a file; and nothing is
// created: no lab state, hence no namespace or process (a lab writes its
// state before it creates anything).
func TestBadInputIsExplainedAndCreatesNothing(t *testing.T) {
	root := os.Geteuid() == 0
	const fleet = `    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | us1    | aws   | 1                          | 2              | 2              | 1                       |
`
	feature := func(steps string) string {
		return "Feature: bad input\n  Scenario: it must not start\n" + steps
	}
	const topoHead = "regions:\n  - name: us1\n    cloud: aws\n    clusters:\n"
	tests := []struct {
		name  string
		file  string // written to the test folder as bad.feature or bad.yaml, if set
		args  []string
		wants []string // in the output; FILE stands for the file's path
		root  bool     // needs root to reach the check (run and lab up check root first)
	}{
		// Feature files.
		{name: "unknown step", file: feature(fleet + "    When the database melts\n"),
			args: []string{"plan", "FILE"}, wants: []string{"FILE:6: When the database melts: no such step"}},
		{name: "140%", file: feature(fleet + "    When systemd-networkd restarts on 140% of nodes in all regions\n"),
			args: []string{"plan", "FILE"}, wants: []string{"FILE:6:", "140% is not a share of nodes"}},
		{name: "unknown region", file: feature(fleet + "    When systemd-networkd restarts on 60% of nodes in eu9\n"),
			args: []string{"plan", "FILE"}, wants: []string{"FILE:6:", "no node matches"}},
		{name: "malformed fleet table", file: feature("    Given a fleet on the lab:\n      | region | provider |\n      | us1    | aws      |\n"),
			args: []string{"plan", "FILE"}, wants: []string{"FILE:3:", "the fleet table has 2 columns"}},
		{name: "unknown cloud in the fleet table", file: feature(strings.Replace(fleet, "| aws ", "| aws2", 1)),
			args: []string{"plan", "FILE"}, wants: []string{"FILE:3:", `unknown cloud "aws2"`}},
		{name: "a fleet too large to count", file: feature(strings.Replace(fleet, "| 1                          |", "| 9223372036854775807        |", 1)),
			args: []string{"plan", "FILE"}, wants: []string{"FILE:3:", `parent control-plane nodes is "9223372036854775807": want a whole number from 0 to 2000`}},
		{name: "unknown group in an order table", file: feature(fleet + "    When operators reboot the NotReady nodes in order, 4 at a time:\n      | parent workers |\n      | database nodes |\n"),
			args: []string{"plan", "FILE"}, wants: []string{"FILE:6:", `table row 2: unknown group "database nodes"`}},
		{name: "zero at a time", file: feature(fleet + "    When operators reboot the NotReady nodes in order, 0 at a time:\n      | parent workers |\n"),
			args: []string{"plan", "FILE"}, wants: []string{"FILE:6:", "want at least 1 node"}},
		{name: "a wait that overflows", file: feature(fleet + "    When operators take 153722867280912 minutes to react\n"),
			args: []string{"plan", "FILE"}, wants: []string{"FILE:6:", "is too long"}},
		{name: "an even quorum", file: feature(fleet + "    And the \"tag-index\" service runs as a 2-replica quorum on every child cluster\n"),
			args: []string{"plan", "FILE"}, wants: []string{"FILE:6:", "want an odd number"}},
		{name: "a fault before any fleet", file: feature("    When systemd-networkd restarts on 60% of nodes in all regions\n"),
			args: []string{"plan", "FILE"}, wants: []string{"FILE:3:", "no fleet yet"}},
		{name: "Gherkin syntax error", file: feature(fleet + "    Whenn it breaks\n"),
			args: []string{"plan", "FILE"}, wants: []string{"FILE", "(6:", "Whenn it breaks"}},
		{name: "not Gherkin at all", file: "this is not a feature\n",
			args: []string{"plan", "FILE"}, wants: []string{"FILE", "(1:1)"}},
		{name: "run: 140% is refused before any lab", file: feature(fleet + "    When systemd-networkd restarts on 140% of nodes in all regions\n"),
			args: []string{"run", "FILE"}, wants: []string{"FILE:6:", "140% is not a share of nodes", "nothing was created or injected"}, root: true},
		{name: "run: unknown step is refused before any lab", file: feature(fleet + "    And all nodes are Ready\n    Then the sky is green\n"),
			args: []string{"run", "FILE"}, wants: []string{"FILE:7: Then the sky is green: no such step"}, root: true},

		// Topology files.
		{name: "unknown cloud in a topology", file: topoHead[:strings.Index(topoHead, "aws")] + "aws2\n    clusters:\n      - {name: us1-parent, role: parent, controlPlanes: 1, workers: 1}\n",
			args: []string{"lab", "up", "--topology", "FILE"}, wants: []string{`FILE:3: region us1: unknown cloud "aws2"`}},
		{name: "YAML syntax error", file: topoHead + "      - {name: us1-parent, role: parent\n",
			args: []string{"lab", "up", "--topology", "FILE"}, wants: []string{"FILE:", "invalid YAML"}},
		{name: "child cluster without a parent", file: topoHead + "      - {name: us1-app1, role: child, workers: 2}\n",
			args: []string{"lab", "up", "--topology", "FILE"}, wants: []string{"FILE:5:", "has no parent"}},
		{name: "unknown field", file: topoHead + "      - {name: us1-parent, role: parent, controlPlanes: 1, wokers: 1}\n",
			args: []string{"lab", "up", "--topology", "FILE"}, wants: []string{"FILE:5:", `unknown cluster field "wokers"`}},
		{name: "counts that wrap around", file: topoHead + "      - {name: p, role: parent, controlPlanes: 9223372036854775807, workers: 1}\n",
			args: []string{"lab", "up", "--topology", "FILE"}, wants: []string{"FILE:1: topology has", "nodes or more (want at most 2000)"}},
		{name: "alias fan-out", file: aliasBomb(200),
			args: []string{"lab", "up", "--topology", "FILE"}, wants: []string{"FILE:2: more than 2000 clusters"}},
		{name: "bad duration", file: "timing:\n  heartbeat: soon\n" + topoHead + "      - {name: us1-parent, role: parent, controlPlanes: 1}\n",
			args: []string{"lab", "up", "--topology", "FILE"}, wants: []string{"FILE:2:", `invalid duration "soon"`}},

		// Flags.
		{name: "unknown infra", args: []string{"run", "--infra", "aws"}, wants: []string{`--infra "aws"`}},
		{name: "negative seed", args: []string{"plan", "--seed", "-1"}, wants: []string{`invalid argument "-1" for "--seed"`}},
		{name: "unknown flag", args: []string{"run", "--blast-everything"}, wants: []string{"unknown flag: --blast-everything"}},
		{name: "missing feature file", args: []string{"plan", "no-such.feature"}, wants: []string{"no-such.feature"}},
		{name: "unknown preset", args: []string{"lab", "up", "--preset", "huge"}, wants: []string{`"huge"`}},
		{name: "preset and topology", args: []string{"lab", "up", "--preset", "tiny", "--topology", "x.yaml"}, wants: []string{"not both"}},
		{name: "unsafe run ID", args: []string{"lab", "up", "--preset", "tiny", "--run", "../etc"}, wants: []string{`run ID "../etc"`}, root: true},
		{name: "cleanup without a journal", args: []string{"cleanup"}, wants: []string{"give --journal"}},
		{name: "cleanup of a missing journal", args: []string{"cleanup", "--journal", "gone.jsonl"}, wants: []string{"gone.jsonl"}},
		{name: "report of a missing journal", args: []string{"report", "gone.json"}, wants: []string{"gone.json"}},
	}
	if len(tests) < 20 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root && !root {
				t.Skip("this command checks for root before it reads its input; CI runs this as root")
			}
			dir := shortTempDir(t)
			args := append([]string(nil), tt.args...)
			path := ""
			if tt.file != "" {
				ext := ".feature"
				if slices.Contains(args, "--topology") {
					ext = ".yaml"
				}
				path = "bad" + ext // as the user types it, in the working folder
				if err := os.WriteFile(filepath.Join(dir, path), []byte(tt.file), 0o644); err != nil {
					t.Fatal(err)
				}
				for i := range args {
					if args[i] == "FILE" {
						args[i] = path
					}
				}
			}
			cmd := exec.Command(filepath.Join(binDir, "aftershock"), args...)
			cmd.Dir, cmd.Env = dir, env(t, dir)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("aftershock %v succeeded:\n%s", args, out)
			}
			for _, want := range tt.wants {
				want = strings.ReplaceAll(want, "FILE", path)
				if !strings.Contains(string(out), want) {
					t.Errorf("output does not say %q:\n%s", want, out)
				}
			}
			if strings.Contains(string(out), "panic") || strings.Contains(string(out), "runtime error") {
				t.Errorf("a crash, not an explanation:\n%s", out)
			}
			// Nothing created: no lab state under the state root (a lab
			// writes its state before it creates any namespace or
			// process), so no lab.
			stateRoot := filepath.Join(dir, "aftershock")
			if _, err := os.Stat(stateRoot); !os.IsNotExist(err) {
				entries, _ := os.ReadDir(stateRoot)
				t.Errorf("bad input created lab state %s: %v", stateRoot, entries)
				for _, e := range entries {
					if left := labNamespaces(t, e.Name()); len(left) > 0 {
						t.Errorf("and namespaces %v", left)
					}
				}
			}
		})
	}
}

// aliasBomb is a topology of a few kilobytes whose aliases name n×n clusters.
func aliasBomb(n int) string {
	var b strings.Builder
	b.WriteString("x:\n  c: &c {name: a, role: parent, controlPlanes: 1}\n  cl: &cl [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("*c,", n), ","))
	b.WriteString("]\n  r: &r {name: us1, cloud: aws, clusters: *cl}\nregions: [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("*r,", n), ","))
	fmt.Fprintf(&b, "]\n")
	return b.String()
}
