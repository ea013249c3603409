package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

const fleetStep = `    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | us1    | aws   | 1                          | 2              | 2              | 1                       |
`

// countingProvider is a fake above the fleet boundary: it only counts how
// often a fleet was asked for.
type countingProvider struct{ ups int }

func (*countingProvider) Name() string { return "counting" }
func (p *countingProvider) Up(context.Context, topology.Topology) (infra.Fleet, error) {
	p.ups++
	return nil, errors.New("no fleet in this test")
}

// gcpFleet is a fleet with one gcp region and no aws one.
const gcpFleet = "    Given a fleet on the lab:\n      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |\n      | eu1    | gcp   | 1 | 1 | 1 | 1 |\n"

// Bad input fails the plan with a message naming the file and line, and
// Run creates nothing.
func TestBadInputFailsThePlanAndCreatesNothing(t *testing.T) {
	tests := []struct {
		name, steps, want string
	}{
		{"unknown step", fleetStep + "    When the database melts\n", "bad.feature:6: When the database melts: no such step"},
		{"140%", fleetStep + "    When systemd-networkd restarts on 140% of nodes in all regions\n", "bad.feature:6: When systemd-networkd restarts on 140% of nodes in all regions: 140% is not a share of nodes"},
		{"0 nodes", fleetStep + "    When systemd-networkd restarts on 0 nodes of every child cluster in us1\n", "bad.feature:6:"},
		{"more nodes than a cluster has", fleetStep + "    When systemd-networkd restarts on 2 nodes of every child cluster in us1\n", "bad.feature:6:"},
		{"unknown region", fleetStep + "    When systemd-networkd restarts on 60% of nodes in eu9\n", `bad.feature:6: When systemd-networkd restarts on 60% of nodes in eu9: no node matches`},
		{"a share that selects nothing", fleetStep + "    When systemd-networkd restarts on 10% of nodes in all regions\n", "selects no node"},
		{"unknown group", fleetStep + "    When operators reboot the NotReady nodes in order, 4 at a time:\n      | parent workers |\n      | database nodes |\n", `bad.feature:6: When operators reboot the NotReady nodes in order, 4 at a time:: table row 2: unknown group "database nodes"`},
		{"malformed fleet table", "    Given a fleet on the lab:\n      | region | provider |\n      | us1    | aws      |\n", `bad.feature:3: Given a fleet on the lab:: the fleet table has 2 columns`},
		{"unknown cloud", "    Given a fleet on the lab:\n      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |\n      | us1    | aws2  | 1 | 1 | 1 | 1 |\n", `unknown cloud "aws2"`},
		{"fault before any fleet", "    When systemd-networkd restarts on 60% of nodes in all regions\n", "bad.feature:3: When systemd-networkd restarts on 60% of nodes in all regions: no fleet yet"},
		{"unknown region in a verdict", fleetStep + "    Then the control plane of every child cluster in eu9 is unreachable\n", `unknown region "eu9" (the fleet has us1)`},
		{"an even replica count", fleetStep + "    And the \"tag-index\" service runs as a 2-replica quorum on every child cluster\n", `bad.feature:6: And the "tag-index" service runs as a 2-replica quorum on every child cluster: a 2-replica quorum: want an odd number`},
		{"zero replicas", fleetStep + "    And the \"tag-index\" service runs as a 0-replica quorum on every child cluster\n", "a 0-replica quorum: want an odd number"},
		{"a quorum larger than a cluster", fleetStep + "    And the \"tag-index\" service runs as a 3-replica quorum on every child cluster\n", "does not fit on child cluster us1-app1 of 1 nodes"},
		{"an unknown service", fleetStep + "    And the \"metrics-intake\" service runs sharded on every child cluster\n    Then \"tag-index\" is unavailable in at least one child cluster\n", `bad.feature:7: Then "tag-index" is unavailable in at least one child cluster: unknown service "tag-index" (the scenario runs metrics-intake)`},
		{"a rate of 0", fleetStep + "    And the cloud API in us1 allows 0 CreateNetworkInterface calls per second\n", "bad.feature:6: And the cloud API in us1 allows 0 CreateNetworkInterface calls per second: 0 CreateNetworkInterface calls per second: want more than 0"},
		{"a negative rate", fleetStep + "    And the cloud API in us1 allows -5 CreateNetworkInterface calls per second\n", "bad.feature:6: And the cloud API in us1 allows -5 CreateNetworkInterface calls per second: no such step"},
		{"cloud behaviour on an unknown region", fleetStep + "    And auto-scaling groups in eu9 replace a node after 3 failed status checks\n", `bad.feature:6: And auto-scaling groups in eu9 replace a node after 3 failed status checks: unknown region "eu9": the fleet has us1`},
		{"cloud behaviour on a gcp region", gcpFleet + "    And auto-scaling groups in eu1 replace a node after 3 failed status checks\n", "region eu1 runs on gcp: only aws regions have auto-scaling groups"},
		{"zero failed checks", fleetStep + "    And auto-scaling groups in us1 replace a node after 0 failed status checks\n", "0 failed status checks: want at least 1"},
		{"a quota of 0 instances", fleetStep + "    And the cloud API in us1 allows at most 0 instances\n", "0 instances: want at least 1"},
		{"an issuer of 0 concurrent requests", fleetStep + "    And the certificate issuer in us1 serves at most 0 concurrent requests\n", "0 concurrent requests: want at least 1"},
		{"a retry interval of 0", fleetStep + "    And the network operator retries every 0 milliseconds without backoff\n", "the network operator: retry interval 0s: want more than 0"},
		{"a backoff that shrinks", fleetStep + "    And the network operator retries with exponential backoff from 10 seconds to 1 seconds\n", "want a maximum of at least the initial wait"},
		{"a network operator without aws", gcpFleet + "    And the network operator retries every 10 milliseconds without backoff\n", "the fleet has no aws region"},
		{"scale-up of an unknown cluster", fleetStep + "    When the auto-scaling group of us1-app9 scales up by 3 nodes\n", `unknown cluster "us1-app9"`},
		{"zero parallelism", fleetStep + "    When operators reboot the NotReady nodes in order, 0 at a time:\n      | parent workers |\n", "at least 1 node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"bad.feature": {Data: []byte("Feature: bad input\n  Scenario: " + tt.name + "\n" + tt.steps)}}
			provider := &countingProvider{}
			suite := Suite{FS: fsys, Paths: []string{"bad.feature"}, Steps: Options{Provider: provider}, Output: &bytes.Buffer{}}
			var plan bytes.Buffer
			status, err := suite.Run(&plan)
			if err == nil || status == 0 {
				t.Fatalf("bad input passed the plan:\n%s", plan.String())
			}
			if !errors.Is(err, ErrPlanFailed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error does not name the problem %q:\n%v", tt.want, err)
			}
			if provider.ups != 0 {
				t.Errorf("a fleet was requested %d times for bad input", provider.ups)
			}
		})
	}
}

// A plan prints which nodes each fault would hit; a cloud scope keeps the
// fault on that cloud's regions.
func TestPlanShowsTheSelection(t *testing.T) {
	feature := `Feature: plan
  Scenario: aws only
    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | us1    | aws   | 1                          | 2              | 1              | 4                       |
      | eu1    | gcp   | 1                          | 2              | 1              | 4                       |
    When systemd-networkd restarts on 50% of nodes in all aws regions within 10 seconds
`
	var out bytes.Buffer
	suite := Suite{FS: fstest.MapFS{"plan.feature": {Data: []byte(feature)}}, Paths: []string{"plan.feature"}, Steps: Options{Seed: 3}}
	if err := suite.Plan(&out); err != nil {
		t.Fatal(err)
	}
	plan := out.String()
	for _, want := range []string{"plan.feature: aws only", "4 of 7 nodes", "us1-app1 2/4", "us1-parent 2/3", "T+"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, "eu1-") {
		t.Errorf("an aws-only fault would hit a gcp node:\n%s", plan)
	}
}

// A fleet given to the run replaces the scenario's table: the plan says so
// and selects from the given fleet; a malformed table still fails.
func TestFleetOverride(t *testing.T) {
	small, err := topology.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	feature := "Feature: override\n  Scenario: small\n" + fleetStep + "    When systemd-networkd restarts on 100% of nodes in all regions\n"
	suite := Suite{FS: fstest.MapFS{"o.feature": {Data: []byte(feature)}}, Paths: []string{"o.feature"}, Steps: Options{Fleet: &small}}
	var out bytes.Buffer
	if err := suite.Plan(&out); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d of %d nodes", len(small.Nodes()), len(small.Nodes()))
	for _, w := range []string{"fleet table replaced by preset:tiny", want} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("plan lacks %q:\n%s", w, out.String())
		}
	}
	if strings.Contains(out.String(), "us1-") {
		t.Errorf("the plan selects from the table's fleet:\n%s", out.String())
	}
	bad := strings.Replace(feature, "| 2              | 1                       |", "| two            | 1                       |", 1)
	suite.FS = fstest.MapFS{"o.feature": {Data: []byte(bad)}}
	if err := suite.Plan(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "o.feature:") {
		t.Errorf("a malformed table passed, or its error names no line: %v", err)
	}
}

// A fault beyond the provider's blast-radius cap fails the plan, and the
// plan shows the cap.
func TestBlastRadiusCap(t *testing.T) {
	feature := "Feature: cap\n  Scenario: too wide\n" + fleetStep + "    When systemd-networkd restarts on 60% of nodes in all regions\n"
	capped := BlastRadius{Max: 0.34, Provider: "terraform"}
	for _, tt := range []struct {
		name string
		cap  BlastRadius
		fail bool
	}{
		{"capped", capped, true},
		{"lifted", BlastRadius{Max: 1, Provider: "terraform"}, false},
		{"lab", BlastRadius{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			suite := Suite{FS: fstest.MapFS{"cap.feature": {Data: []byte(feature)}}, Paths: []string{"cap.feature"}, Steps: Options{BlastRadius: tt.cap}}
			var plan bytes.Buffer
			err := suite.Plan(&plan)
			if tt.fail != (err != nil) {
				t.Fatalf("plan error %v, want failure %v:\n%s", err, tt.fail, plan.String())
			}
			if tt.fail && !strings.Contains(err.Error(), "cap.feature:6:") || tt.fail && !strings.Contains(err.Error(), "--allow-global-blast-radius") {
				t.Errorf("the error does not name the line and the way out: %v", err)
			}
			if !strings.Contains(plan.String(), "blast-radius cap: "+tt.cap.String()) {
				t.Errorf("the plan does not show the cap %q:\n%s", tt.cap, plan.String())
			}
		})
	}
}
