package terraform

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestInjectNetworkdArgs(t *testing.T) {
	tests := []struct {
		name  string
		netns string
		spec  NetworkdSpec
		want  []string
	}{
		{"lab node: its namespace", "/run/netns/as-r1-n0", NetworkdSpec{ManageForeignRoutingPolicyRules: true, ManagedLinks: []string{"eth0"}},
			[]string{"inject", "networkd-restart", "--netns", "/run/netns/as-r1-n0", "--node", "n0", "--journal", "/j/n0.jsonl", "--id", "r1/n0/1",
				"--manage-foreign-routing-policy-rules=true", "--manage-foreign-routes=false", "--link", "eth0"}},
		{"real node: itself", "", NetworkdSpec{ManageForeignRoutes: true, ManagedLinks: []string{"ens5", "ens6"},
			DeclaredRules: []string{"priority=100,table=2004"}},
			[]string{"inject", "networkd-restart", "--self", "--node", "n0", "--journal", "/j/n0.jsonl", "--id", "r1/n0/1",
				"--manage-foreign-routing-policy-rules=false", "--manage-foreign-routes=true", "--link", "ens5", "--link", "ens6",
				"--declared-rule", "priority=100,table=2004"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := InjectNetworkdArgs("n0", tt.netns, "/j/n0.jsonl", "r1/n0/1", tt.spec)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
	if got, want := RevertArgs("/j/n0.jsonl", "r1/n0/1"), []string{"inject", "revert", "--journal", "/j/n0.jsonl", "--id", "r1/n0/1"}; !slices.Equal(got, want) {
		t.Errorf("RevertArgs = %q, want %q", got, want)
	}
}

// TestNetworkdRestartThroughExec checks the argv a remote injection runs
// through the node's exec command, and its journal steps.
func TestNetworkdRestartThroughExec(t *testing.T) {
	f := newFakes(t)
	fleet := fakeFleet(t, f, nil)
	spec := NetworkdSpec{ManageForeignRoutingPolicyRules: true, ManagedLinks: []string{"eth0"}}
	ctx := context.Background()

	// Node 3 declares a netns: the fault points at it; node 1 has none: --self.
	self, err := fleet.NetworkdRestart("ip-10-0-0-1.ec2.internal", "run/1", spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := self.InjectCommand(); !slices.Contains(got, "--self") || slices.Contains(got, "--netns") {
		t.Errorf("a node without netns is injected with --self: %q", got)
	}
	fault, err := fleet.NetworkdRestart("ip-10-0-1-3.ec2.internal", "run/3", spec)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	fault.OnStep = func(s Step) error {
		if s.ID != "run/3" || s.Node != "ip-10-0-1-3.ec2.internal" || !slices.Contains(s.Revert, "revert") {
			t.Errorf("step %+v", s)
		}
		steps = append(steps, s.State)
		return nil
	}
	if fault.Name() != "networkd-restart" || fault.Target() != "ip-10-0-1-3.ec2.internal" {
		t.Errorf("Name %q Target %q", fault.Name(), fault.Target())
	}
	if err := fault.Revert(ctx); err != nil || len(f.calls()) != 0 {
		t.Fatalf("Revert before Inject ran %q: %v", f.calls(), err)
	}
	if err := fault.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fault.Inject(ctx); err == nil || !strings.Contains(err.Error(), "already injected") {
		t.Errorf("a second Inject: %v", err)
	}
	for range 2 {
		if err := fault.Revert(ctx); err != nil {
			t.Fatal(err)
		}
	}
	journal := "/var/lib/aftershock/ip-10-0-1-3.ec2.internal.jsonl"
	want := [][]string{
		{"action", "exec", "ip-10-0-1-3.ec2.internal", "--", "/opt/aftershock", "inject", "networkd-restart",
			"--netns", "/run/netns/node3", "--node", "ip-10-0-1-3.ec2.internal", "--journal", journal, "--id", "run/3",
			"--manage-foreign-routing-policy-rules=true", "--manage-foreign-routes=false", "--link", "eth0"},
		{"action", "exec", "ip-10-0-1-3.ec2.internal", "--", "/opt/aftershock", "inject", "revert", "--journal", journal, "--id", "run/3"},
	}
	if got := f.calls(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("ran\n%q\nwant\n%q", got, want)
	}
	if got, want := strings.Join(steps, " "), "injecting injected reverting reverted"; got != want {
		t.Errorf("steps %q, want %q", got, want)
	}
}

func TestNetworkdRestartFailures(t *testing.T) {
	f := newFakes(t)
	fleet := fakeFleet(t, f, nil)
	ctx := context.Background()
	node := "ip-10-0-0-2.ec2.internal"

	// The journal refuses: nothing runs on the node.
	fault, err := fleet.NetworkdRestart(node, "run/2", NetworkdSpec{})
	if err != nil {
		t.Fatal(err)
	}
	fault.OnStep = func(Step) error { return errors.New("disk full") }
	if err := fault.Inject(ctx); err == nil || !strings.Contains(err.Error(), "nothing ran") || len(f.calls()) != 0 {
		t.Errorf("Inject with a failing journal: %v; ran %q", err, f.calls())
	}

	// The node-side command fails: Inject says so, and Revert still runs
	// the node-side revert, which restores whatever the node journalled.
	fault, err = fleet.NetworkdRestart(node, "run/2b", NetworkdSpec{})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	fault.OnStep = func(s Step) error { steps = append(steps, s.State+":"+s.Error); return nil }
	f.set("exit", "1")
	f.set("stderr", "inject networkd-restart on n2: flush rules: operation not permitted\n")
	err = fault.Inject(ctx)
	if _, ok := errors.AsType[*ActionError](err); !ok || !strings.Contains(err.Error(), "operation not permitted") {
		t.Errorf("failed Inject: %v", err)
	}
	f.set("exit", "0")
	if err := fault.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.calls(); len(got) != 2 || !slices.Contains(got[1], "revert") {
		t.Errorf("ran %q, want the inject then the revert", got)
	}
	if len(steps) != 4 || !strings.HasPrefix(steps[1], "failed:") || steps[3] != "reverted:" {
		t.Errorf("steps %q", steps)
	}

	// A node this fleet terminated counts as reverted: its target is gone.
	fault, err = fleet.NetworkdRestart(node, "run/2c", NetworkdSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fault.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Terminate(ctx, node); err != nil {
		t.Fatal(err)
	}
	before := len(f.calls())
	if err := fault.Revert(ctx); err != nil || len(f.calls()) != before {
		t.Errorf("Revert on a terminated node: %v, ran %q", err, f.calls()[before:])
	}
	if _, err := fleet.NetworkdRestart("nope", "x", NetworkdSpec{}); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("fault on an unknown node: %v", err)
	}
}
