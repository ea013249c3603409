package steps

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"regexp"
	"testing"
	"testing/fstest"

	"github.com/cucumber/godog"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestJUnitGolden pins the JUnit report CI systems parse, for a fixed
// feature run as a plan: one testcase per scenario, and the verdict's message
// in the failure. Regenerate with go test ./steps -update.
func TestJUnitGolden(t *testing.T) {
	feature := "Feature: junit\n  Scenario: passes\n" + fleetStep +
		"    When systemd-networkd restarts on 50% of nodes in all regions\n" +
		"  Scenario: fails\n" + fleetStep +
		"    When systemd-networkd restarts on 140% of nodes in all regions\n"
	var out bytes.Buffer
	godog.TestSuite{
		Name:                "aftershock",
		ScenarioInitializer: InitializeScenario(Options{Plan: true}),
		Options: &godog.Options{Format: "junit", Output: &out, Strict: true, NoColors: true,
			FS: fstest.MapFS{"junit.feature": {Data: []byte(feature)}}, Paths: []string{"junit.feature"}},
	}.Run()
	got := regexp.MustCompile(`time="[^"]*"`).ReplaceAll(out.Bytes(), []byte(`time="0"`))

	var suites struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(got, &suites); err != nil {
		t.Fatalf("junit does not parse: %v\n%s", err, got)
	}
	s := suites.Suites[0]
	if s.Tests != 2 || s.Failures != 1 || len(s.Cases) != 2 || s.Cases[1].Failure == nil ||
		s.Cases[1].Failure.Message == "" || s.Cases[0].Failure != nil {
		t.Errorf("want 2 testcases, the second failing with the verdict:\n%s", got)
	}

	golden := "testdata/junit.golden.xml"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./steps -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("junit differs from %s:\n%s", golden, got)
	}
}
