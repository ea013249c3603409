package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInjectSelfOnTheNode runs `aftershock inject networkd-restart --self`
// the way a Terraform fleet's exec command does on a real node: aftershock
// runs inside the node's own network namespace (here `ip netns exec`), named
// as this machine. It flushes that namespace's foreign rule, leaves the
// host's alone, and its revert, run the same way, restores it.
func TestInjectSelfOnTheNode(t *testing.T) {
	requireRoot(t)
	ns := fmt.Sprintf("as-selftest%d-n0", os.Getpid())
	ip := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
		return string(out)
	}
	ip("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", ns).Run() })
	ip("-n", ns, "rule", "add", "pref", "111", "from", "10.9.0.10", "lookup", "2004")
	hostRules := ip("rule", "show")
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(t.TempDir(), "node.jsonl")
	inNode := func(args ...string) (string, error) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns, filepath.Join(binDir, "aftershock")}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := inNode("inject", "networkd-restart", "--self", "--node", host, "--journal", journal, "--id", "self/1"); err != nil {
		t.Fatalf("inject --self on the node: %v\n%s", err, out)
	}
	if rules := ip("-n", ns, "rule", "show"); strings.Contains(rules, "lookup 2004") {
		t.Errorf("the node's foreign rule survived the fault:\n%s", rules)
	}
	if got := ip("rule", "show"); got != hostRules {
		t.Errorf("the host's rules changed:\n%s\nwant\n%s", got, hostRules)
	}
	if out, err := inNode("inject", "revert", "--journal", journal, "--id", "self/1"); err != nil {
		t.Fatalf("revert on the node: %v\n%s", err, out)
	}
	if rules := ip("-n", ns, "rule", "show"); !strings.Contains(rules, "111:\tfrom 10.9.0.10 lookup 2004") {
		t.Errorf("the node's rule was not restored:\n%s", rules)
	}
	// From the host, the same journal cannot be used against the host.
	if out, err := inNode("inject", "networkd-restart", "--self", "--node", "not-"+host, "--journal", journal, "--id", "self/2"); err == nil {
		t.Errorf("--self with another node's name was accepted:\n%s", out)
	}
}
