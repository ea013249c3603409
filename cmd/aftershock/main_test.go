package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// binDir holds aftershock and aftershock-agent, built once for these tests:
// the CLI is tested as users run it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aftershock-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = os.Chmod(dir, 0o755) // the not-root test runs the binary as nobody
	build := exec.Command("go", "build", "-o", dir+"/",
		"github.com/aftershock-sre/aftershock/cmd/aftershock", "github.com/aftershock-sre/aftershock/cmd/aftershock-agent")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build aftershock:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run executes aftershock with args and returns its combined output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "aftershock"), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the lab needs root to create network namespaces; CI runs this as root")
	}
}

func labNamespaces(t *testing.T, runID string) []string {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "as-"+runID+"-") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestLabUpRejectsBadInputAndCreatesNothing(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cloud := write("cloud.yaml", "regions:\n  - name: us1\n    cloud: aws2\n    clusters:\n      - name: us1-parent\n        role: parent\n        controlPlanes: 1\n        workers: 1\n")
	orphan := write("orphan.yaml", "regions:\n  - name: us1\n    cloud: aws\n    clusters:\n      - name: us1-app1\n        role: child\n        workers: 2\n")
	empty := write("empty.yaml", "regions:\n  - name: us1\n    cloud: gcp\n    clusters:\n      - name: us1-parent\n        role: parent\n        controlPlanes: 0\n        workers: 0\n")
	dup := write("dup.yaml", "regions:\n  - name: us1\n    cloud: gcp\n    clusters:\n      - {name: a, role: parent, controlPlanes: 1, workers: 1}\n      - {name: a, role: parent, controlPlanes: 1, workers: 1}\n")

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown cloud", []string{"--topology", cloud}, cloud + `:3: region us1: unknown cloud "aws2"`},
		{"child without parent", []string{"--topology", orphan}, orphan + ":5:"},
		{"zero nodes", []string{"--topology", empty}, "has no nodes"},
		{"duplicate names", []string{"--topology", dup}, dup + ":6:"},
		{"missing file", []string{"--topology", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		{"unknown preset", []string{"--preset", "huge"}, `"huge"`},
		{"no topology", nil, "give --preset"},
		{"both", []string{"--preset", "tiny", "--topology", cloud}, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"lab", "up", "--run", "badinput", "--state-root", dir}, tt.args...)
			out, err := run(t, args...)
			if err == nil {
				t.Fatalf("aftershock %v succeeded:\n%s", args, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output does not name the problem %q:\n%s", tt.want, out)
			}
			if left := labNamespaces(t, "badinput"); len(left) > 0 {
				t.Errorf("namespaces created for bad input: %v", left)
			}
			if _, err := os.Stat(filepath.Join(dir, "badinput")); !os.IsNotExist(err) {
				t.Errorf("lab folder created for bad input")
			}
		})
	}
}

func TestLabUpAsNonRootFailsClearly(t *testing.T) {
	requireRoot(t) // to become nobody we must start as root
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is needed to drop privileges: %v", err)
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
		filepath.Join(binDir, "aftershock"), "lab", "up", "--preset", "tiny", "--state-root", t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("lab up as nobody succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), "needs root") {
		t.Errorf("lab up as nobody does not say it needs root:\n%s", out)
	}
}

// TestLabUpStatusDown runs the lab the way a user does: lab up returns with
// the lab running in the background, lab status reads it from the API
// servers, lab down removes it.
func TestLabUpStatusDown(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	const runID = "clitest"
	t.Cleanup(func() { _, _ = run(t, "lab", "down", "--run", runID, "--state-root", root) })

	out, err := run(t, "lab", "up", "--preset", "tiny", "--run", runID, "--state-root", root)
	if err != nil {
		t.Fatalf("lab up: %v\n%s", err, out)
	}
	if !strings.Contains(out, "lab clitest is up") || !strings.Contains(out, "nodes Ready: 4/4") {
		t.Errorf("lab up output lacks progress or the result:\n%s", out)
	}

	out, err = run(t, "lab", "status", "--state-root", root) // the only lab: no --run needed
	if err != nil {
		t.Fatalf("lab status: %v\n%s", err, out)
	}
	for _, want := range []string{"eu1-parent", "eu1-app1", "reachable", "2/2", "eu1-app1-w1"} {
		if !strings.Contains(out, want) {
			t.Errorf("lab status lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, " Ready\n"); n != 4 {
		t.Errorf("lab status shows %d Ready nodes, want 4:\n%s", n, out)
	}

	out, err = run(t, "lab", "down", "--run", runID, "--state-root", root)
	if err != nil {
		t.Fatalf("lab down: %v\n%s", err, out)
	}
	if left := labNamespaces(t, runID); len(left) > 0 {
		t.Errorf("namespaces left after lab down: %v", left)
	}
	if _, err := os.Stat(filepath.Join(root, runID)); !os.IsNotExist(err) {
		t.Errorf("lab folder left after lab down")
	}
	if out, err := run(t, "lab", "status", "--state-root", root); err == nil || !strings.Contains(out, "no lab is running") {
		t.Errorf("lab status after down: %v\n%s", err, out)
	}
}

// TestRunWritesReportsAndExitCodes runs a passing and a failing feature
// through `aftershock run` on the lab: exit 0 only when every scenario
// passed, and a JUnit file CI systems can parse, with the failure's message.
func TestRunWritesReportsAndExitCodes(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	const fleet = `    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | eu1    | gcp   | 1                          | 1              | 1              | 2                       |
    And every node runs systemd-networkd with ManageForeignRoutingPolicyRules=no
    And all nodes are Ready
    When systemd-networkd restarts on 100% of nodes in all regions
`
	pass := filepath.Join(dir, "pass.feature")
	fail := filepath.Join(dir, "fail.feature")
	if err := os.WriteFile(pass, []byte("Feature: fix holds\n  Scenario: nothing breaks\n"+fleet+"    Then for 3 seconds no node becomes NotReady\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fail, []byte("Feature: wrong claim\n  Scenario: claims an outage\n"+fleet+"    Then within 6 seconds at least 50% of nodes are NotReady\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, feature string
		wantExit      bool
		wantFailure   string
	}{
		{"a passing feature exits 0", pass, false, ""},
		{"a failing feature exits non-zero with the verdict in junit.xml", fail, true, "at least 50.0%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reportDir := filepath.Join(dir, strings.TrimSuffix(filepath.Base(tt.feature), ".feature"))
			out, err := run(t, "run", tt.feature, "--report-dir", reportDir)
			if (err != nil) != tt.wantExit {
				t.Fatalf("exit error %v, want failure %v:\n%s", err, tt.wantExit, out)
			}
			data, err := os.ReadFile(filepath.Join(reportDir, "junit.xml"))
			if err != nil {
				t.Fatal(err)
			}
			var suites struct {
				Suites []struct {
					Cases []struct {
						Name    string `xml:"name,attr"`
						Failure *struct {
							Message string `xml:"message,attr"`
						} `xml:"failure"`
					} `xml:"testcase"`
				} `xml:"testsuite"`
			}
			if err := xml.Unmarshal(data, &suites); err != nil {
				t.Fatalf("junit.xml does not parse: %v\n%s", err, data)
			}
			if len(suites.Suites) != 1 || len(suites.Suites[0].Cases) != 1 {
				t.Fatalf("want one testsuite with one testcase:\n%s", data)
			}
			c := suites.Suites[0].Cases[0]
			switch {
			case tt.wantFailure == "" && c.Failure != nil:
				t.Errorf("passing scenario has a failure: %+v", c.Failure)
			case tt.wantFailure != "" && (c.Failure == nil || !strings.Contains(c.Failure.Message, tt.wantFailure)):
				t.Errorf("failure %+v does not carry the verdict %q", c.Failure, tt.wantFailure)
			}
			for _, f := range []string{"cucumber.json", "journal.json", "summary.md", "index.html"} {
				if _, err := os.Stat(filepath.Join(reportDir, f)); err != nil {
					t.Errorf("%s missing: %v", f, err)
				}
			}
			// The journal alone re-renders the same report.
			again := filepath.Join(dir, "again-"+filepath.Base(reportDir))
			if out, err := run(t, "report", filepath.Join(reportDir, "journal.json"), "--out", again); err != nil {
				t.Fatalf("aftershock report: %v\n%s", err, out)
			}
			for _, f := range []string{"summary.md", "index.html"} {
				first, _ := os.ReadFile(filepath.Join(reportDir, f))
				second, err := os.ReadFile(filepath.Join(again, f))
				if err != nil || !bytes.Equal(first, second) || len(first) == 0 {
					t.Errorf("%s re-rendered from journal.json differs from the run's (%v)", f, err)
				}
			}
		})
	}
}

// lockedBuffer collects a running command's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// processesMentioning lists the pids whose command line contains s.
func processesMentioning(s string) []string {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []string
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), s) {
			pids = append(pids, filepath.Base(filepath.Dir(p)))
		}
	}
	return pids
}

// TestReportRejectsBadJournals: a missing, truncated or wrong-version
// journal is explained, and nothing is written.
func TestReportRejectsBadJournals(t *testing.T) {
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.json")
	future := filepath.Join(dir, "future.json")
	if err := os.WriteFile(truncated, []byte(`{"Schema":"aftershock.journal/v1","RunID":"x","Scenarios":[{"Name":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(future, []byte(`{"Schema":"aftershock.journal/v9","RunID":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, journal, want string
	}{
		{"missing", filepath.Join(dir, "nope.json"), "nope.json"},
		{"truncated", truncated, "malformed journal"},
		{"wrong version", future, `unsupported journal schema "aftershock.journal/v9"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outDir := filepath.Join(dir, "out-"+strings.ReplaceAll(tt.name, " ", "-"))
			out, err := run(t, "report", tt.journal, "--out", outDir)
			if err == nil || !strings.Contains(out, tt.want) {
				t.Errorf("aftershock report %s: %v\n%s\nwant an error containing %q", tt.journal, err, out, tt.want)
			}
			if entries, _ := os.ReadDir(outDir); len(entries) > 0 {
				t.Errorf("a bad journal left %d files in %s", len(entries), outDir)
			}
		})
	}
}
