package steps

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every example must match its own pattern, and only its own: the library
// documents itself, and ambiguous phrases would fail at run time.
func TestExamplesMatchTheirPhrase(t *testing.T) {
	lib := Library()
	for i, p := range lib {
		line, _, _ := strings.Cut(p.Example, "\n")
		text := strings.TrimPrefix(line, p.Keyword+" ")
		for j, q := range lib {
			matched := regexp.MustCompile(q.Pattern).MatchString(text)
			if i == j && !matched {
				t.Errorf("example %q does not match its pattern %s", text, q.Pattern)
			}
			if i != j && matched {
				t.Errorf("example %q also matches %s", text, q.Pattern)
			}
		}
	}
}

// The phrases the product's owner listed must be accepted verbatim.
func TestOwnersPhrasesAreAccepted(t *testing.T) {
	phrases := []string{
		"a fleet on the lab:",
		"every node runs systemd-networkd with ManageForeignRoutingPolicyRules=yes",
		"every node runs systemd-networkd with ManageForeignRoutingPolicyRules=no",
		"the CNI installs its routing-policy rules with protocol kernel",
		"all nodes are Ready",
		"systemd-networkd restarts on 60% of nodes in all regions within 10 seconds",
		"systemd-networkd restarts on 2 nodes of every child cluster in eu1",
		"systemd-networkd restarts on every parent worker in us1",
		"operators reboot the NotReady nodes in order, 4 at a time:",
		"within 15 seconds at least 55% of nodes are NotReady",
		"every region has NotReady nodes",
		"the control plane of every child cluster in us1 is unreachable",
		"all nodes are Ready within 2 minutes",
		"for 20 seconds no node becomes NotReady",
		"nodes became Ready in this order:",
		`the "metrics-intake" service runs sharded on every child cluster`,
		`the "tag-index" service runs as a 3-replica quorum on every child cluster`,
		"auto-scaling groups in us1 replace a node after 3 failed status checks",
		"the cloud API in us1 allows 5 CreateNetworkInterface calls per second",
		"the certificate issuer in us1 serves at most 20 concurrent requests",
		"the network operator retries every 10 milliseconds without backoff",
		"the network operator retries with exponential backoff from 100 milliseconds to 5 seconds",
		`"metrics-intake" keeps serving at least 35% of requests in every region`,
		`"tag-index" is unavailable in at least one child cluster`,
		`"metrics-intake" serves at least 99.5% of requests within 30 seconds after all nodes are Ready`,
		"at least 90% of replaced nodes in us1 stay Unready for at least 60 seconds",
		"more than 99% of CreateNetworkInterface calls in us1 were throttled",
		"every replaced node in us1 is Ready within 3 minutes",
	}
	for _, text := range phrases {
		n := 0
		for _, p := range Library() {
			if regexp.MustCompile(p.Pattern).MatchString(text) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%q matches %d phrases, want exactly 1", text, n)
		}
	}
}

// docs/steps.md is generated from the library; regenerate it with
// `make docs` when this fails.
func TestStepsDocIsCurrent(t *testing.T) {
	var want bytes.Buffer
	if err := WriteMarkdown(&want); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../docs/steps.md")
	if err != nil {
		t.Fatalf("read docs/steps.md (generate it with make docs): %v", err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Error("docs/steps.md is out of date with the step library: run make docs")
	}
}
