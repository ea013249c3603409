package features_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cucumber/godog"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/features"
	"github.com/aftershock-sre/aftershock/infra/lab"
	"github.com/aftershock-sre/aftershock/infra/lab/labtest"
	"github.com/aftershock-sre/aftershock/infra/topology"
	"github.com/aftershock-sre/aftershock/reports"
	"github.com/aftershock-sre/aftershock/steps"
)

// binaries are the real agent and service programs, built once per test run.
var binaries labtest.Binaries

func TestMain(m *testing.M) { labtest.Main(m, &binaries) }

func labOptions(t *testing.T) steps.Options {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the features run on the embedded lab, which needs root; CI runs them as root")
	}
	bins, err := lab.FindBinaries()
	if err != nil {
		t.Fatalf("lab components missing (run make deps): %v", err)
	}
	return steps.Options{
		Provider: lab.Provider{Options: lab.Options{
			Binaries: bins, AgentCommand: []string{binaries.Agent}, ServiceCommand: []string{binaries.Service}, StateRoot: t.TempDir(),
		}},
		Seed:       1,
		JournalDir: t.TempDir(),
	}
}

// TestFeatures runs the whole disaster library on the embedded lab, each
// scenario as a subtest.
func TestFeatures(t *testing.T) {
	opts := labOptions(t)
	var plan bytes.Buffer
	suite := steps.Suite{FS: features.FS, Paths: []string{"."}, Steps: opts, TestingT: t, Output: os.Stdout}
	status, err := suite.Run(&plan)
	if err != nil {
		t.Fatal(err)
	}
	if status != 0 {
		t.Fatalf("the feature suite failed (status %d)", status)
	}
	if !strings.Contains(plan.String(), "networkd-restart: 60% of nodes") {
		t.Errorf("the plan does not show the flagship's selection:\n%s", plan.String())
	}
}

// TestNegativeControls proves the verdicts can fail: scenarios that must
// fail do fail, and the message names the evidence.
func TestNegativeControls(t *testing.T) {
	opts := labOptions(t)
	const fleet = `
    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | eu1    | gcp   | 1                          | 1              | 1              | 4                       |
    And all nodes are Ready
`
	tests := []struct {
		name, scenario string
		want           []string
	}{
		{
			name: "90% NotReady after a 20% fault",
			scenario: fleet + `    When systemd-networkd restarts on 20% of nodes in all regions within 2 seconds
    Then within 10 seconds at least 90% of nodes are NotReady
`,
			want: []string{"at least 90.0%", "of 6 nodes"},
		},
		{
			name: "a recovery order written backwards",
			scenario: fleet + `    When systemd-networkd restarts on 100% of nodes in all regions within 1 seconds
    Then within 15 seconds at least 50% of nodes are NotReady
    When operators reboot the NotReady nodes in order, 2 at a time:
      | parent control-plane nodes |
      | parent workers             |
      | child cluster nodes        |
    Then all nodes are Ready within 1 minute
    And nodes became Ready in this order:
      | child cluster nodes        |
      | parent workers             |
      | parent control-plane nodes |
`,
			want: []string{"eu1-app1-w", "child cluster nodes", "eu1-parent-"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			status := godog.TestSuite{
				Name:                "negative-control",
				ScenarioInitializer: steps.InitializeScenario(opts),
				Options: &godog.Options{
					Format: "pretty", Output: &out, Strict: true, NoColors: true,
					FeatureContents: []godog.Feature{{Name: "negative.feature", Contents: []byte("Feature: negative control\n  Scenario: " + tt.name + "\n" + tt.scenario)}},
				},
			}.Run()
			if status == 0 {
				t.Fatalf("a scenario that must fail passed:\n%s", out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("the failure does not name %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestStopConditionAborts: a stop condition that trips during a fault stops
// the scenario, reverts every fault at once (long before the step it cut
// short would have ended), and the journal marks the scenario aborted.
func TestStopConditionAborts(t *testing.T) {
	opts := labOptions(t)
	var timeline []experiments.Event
	opts.Timelines = func(_, _ string, _ *topology.Topology, tl *experiments.Timeline) { timeline = tl.Events() }
	const scenario = `Feature: stop condition
  Scenario: metrics-intake must not fall below 90%
    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | eu1    | gcp   | 1                          | 1              | 1              | 4                       |
    And the "metrics-intake" service runs sharded on every child cluster
    And the experiment stops if "metrics-intake" availability falls below 90% for 2 seconds
    And all nodes are Ready
    When systemd-networkd restarts on 50% of nodes in all regions
    And operators take 60 seconds to react
    Then for 1 second no node becomes NotReady
`
	var out bytes.Buffer
	start := time.Now()
	status := godog.TestSuite{
		Name:                "stop-condition",
		ScenarioInitializer: steps.InitializeScenario(opts),
		Options: &godog.Options{Format: "pretty", Output: &out, Strict: true, NoColors: true,
			FeatureContents: []godog.Feature{{Name: "stop.feature", Contents: []byte(scenario)}}},
	}.Run()
	took := time.Since(start)
	if status == 0 {
		t.Fatalf("an aborted scenario passed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `aborted by the stop condition "the experiment stops if \"metrics-intake\" availability falls below 90% for 2 seconds"`) {
		t.Errorf("the failure does not say which stop condition aborted it:\n%s", out.String())
	}
	var triggered, reverted, injected time.Time
	for _, e := range timeline {
		switch {
		case e.Kind == experiments.KindStop && e.Status == "triggered":
			triggered = e.Time
		case e.Kind == experiments.KindStop && e.Status == "reverted":
			reverted = e.Time
		case e.Kind == experiments.KindFault && e.Status == "injected" && injected.IsZero():
			injected = e.Time
		}
	}
	if triggered.IsZero() || reverted.IsZero() {
		t.Fatalf("no stop events on the timeline (triggered %v, reverted %v)", triggered, reverted)
	}
	if d := triggered.Sub(injected); d > 15*time.Second {
		t.Errorf("the stop condition triggered %s after the fault; want within a few seconds", d)
	}
	if took > 50*time.Second {
		t.Errorf("the scenario took %s: the 60-second step was not cut short", took)
	}
	j := reports.FromTimelines("stop", []reports.Scenario{{Name: "stop", Events: timeline}})
	if got := j.Scenarios[0].Status; got != reports.StatusAborted {
		t.Errorf("journal status %q, want %q", got, reports.StatusAborted)
	}
	t.Logf("triggered %s after the first injection, faults reverted %s later, scenario over in %s",
		triggered.Sub(injected).Round(time.Millisecond), reverted.Sub(triggered).Round(time.Millisecond), took.Round(time.Millisecond))
}
