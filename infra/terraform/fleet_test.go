package terraform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	n := Node{ID: "i-0abc", Name: "ip-10-0-0-1", Address: "10.0.0.1", Region: "us1", Cluster: "us1-app"}
	command := []string{"aftershock", "inject", "networkd-restart", "--node", "it's"}
	tests := []struct {
		name    string
		tmpl    []string
		command []string
		want    []string
	}{
		{"node placeholders", []string{"aws", "ec2", "reboot-instances", "--region", "{{region}}", "--instance-ids", "{{id}}"}, nil,
			[]string{"aws", "ec2", "reboot-instances", "--region", "us1", "--instance-ids", "i-0abc"}},
		{"several in one element", []string{"echo", "{{name}}@{{address}} in {{cluster}} on {{cloud}}"}, nil,
			[]string{"echo", "ip-10-0-0-1@10.0.0.1 in us1-app on aws"}},
		{"spaces inside braces", []string{"echo", "{{ id }}"}, nil, []string{"echo", "i-0abc"}},
		{"exec appends the command", []string{"aftershock", "lab", "exec", "{{name}}", "--"}, command,
			[]string{"aftershock", "lab", "exec", "ip-10-0-0-1", "--", "aftershock", "inject", "networkd-restart", "--node", "it's"}},
		{"exec {{argv}} in the middle", []string{"systemd-run", "--machine", "{{name}}", "{{argv}}", "--wait"}, command,
			[]string{"systemd-run", "--machine", "ip-10-0-0-1", "aftershock", "inject", "networkd-restart", "--node", "it's", "--wait"}},
		{"exec {{command}} shell-quoted", []string{"ssh", "admin@{{address}}", "sudo {{command}}"}, command,
			[]string{"ssh", "admin@10.0.0.1", `sudo aftershock inject networkd-restart --node 'it'\''s'`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := expand(tt.tmpl, n, "aws", tt.command)
			if !slices.Equal(got, tt.want) {
				t.Errorf("expand(%q) =\n%q, want\n%q", tt.tmpl, got, tt.want)
			}
		})
	}
}

func TestQuoteArgv(t *testing.T) {
	for in, want := range map[string]string{
		"plain":     "plain",
		"/a/b-c.d":  "/a/b-c.d",
		"two words": "'two words'",
		"it's":      `'it'\''s'`,
		"$HOME":     "'$HOME'",
		"":          "''",
	} {
		if got := quoteArgv([]string{in}); got != want {
			t.Errorf("quoteArgv(%q) = %s, want %s", in, got, want)
		}
	}
}

// fakeFleet builds a fleet from sampleInventory whose actions run the fake
// action command, which records its argv.
func fakeFleet(t *testing.T, f *fakes, mutate func(inv map[string]any)) *Fleet {
	t.Helper()
	action := f.action()
	raw := sampleInventory()
	prefix := func(args ...string) []any {
		var out []any
		for _, a := range append(slices.Clone(action), args...) {
			out = append(out, a)
		}
		return out
	}
	raw["actions"] = map[string]any{
		"reboot":    prefix("reboot", "{{id}}", "{{region}}"),
		"terminate": prefix("terminate", "{{id}}"),
		"exec":      prefix("exec", "{{name}}", "--"),
	}
	raw["aftershock_command"] = []any{"/opt/aftershock"}
	for _, n := range raw["nodes"].([]any) {
		delete(n.(map[string]any), "actions")
	}
	kubeconfig := filepath.Join(t.TempDir(), "app.kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(strings.ReplaceAll(sampleKubeconfig, "name: other", "name: app")), 0o600); err != nil {
		t.Fatal(err)
	}
	raw["clusters"].([]any)[1].(map[string]any)["kubeconfig_path"] = kubeconfig
	if mutate != nil {
		mutate(raw)
	}
	inv, err := ParseInventory(mustJSON(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := NewFleet(inv, FleetOptions{Source: "terraform:test"})
	if err != nil {
		t.Fatal(err)
	}
	return fleet
}

func TestFleetActionsRunTheDeclaredCommands(t *testing.T) {
	f := newFakes(t)
	fleet := fakeFleet(t, f, nil)
	ctx := context.Background()
	node := "ip-10-0-0-2.ec2.internal"

	if err := fleet.Reboot(ctx, node); err != nil {
		t.Fatal(err)
	}
	f.set("stdout", "hello from the node\n")
	out, err := fleet.Exec(ctx, node, []string{"ip", "rule", "show"})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "hello from the node\n" {
		t.Errorf("exec stdout = %q", out)
	}
	if err := fleet.Terminate(ctx, node); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"action", "reboot", "i-0002", "us1"},
		{"action", "exec", node, "--", "ip", "rule", "show"},
		{"action", "terminate", "i-0002"},
	}
	if got := f.calls(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("ran\n%q\nwant\n%q", got, want)
	}
	for _, n := range fleet.Nodes() {
		if n.Name == node {
			t.Errorf("terminated node %s is still in Nodes()", node)
		}
		if n.NetNSPath != "" {
			t.Errorf("node %s has NetNSPath %q: Terraform nodes are reached through exec only", n.Name, n.NetNSPath)
		}
	}
	if len(fleet.Nodes()) != 2 {
		t.Errorf("Nodes() = %d nodes, want 2", len(fleet.Nodes()))
	}
	if err := fleet.Reboot(ctx, node); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("reboot of a terminated node: %v", err)
	}
	if err := fleet.Reboot(ctx, "nope"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("reboot of an unknown node: %v, want ErrUnknownNode", err)
	}
}

func TestFleetActionFailure(t *testing.T) {
	f := newFakes(t)
	fleet := fakeFleet(t, f, nil)
	f.set("exit", "3")
	f.set("stderr", strings.Repeat("x", 5000)+"\nAn error occurred (UnauthorizedOperation) when calling RebootInstances\n")
	err := fleet.Reboot(context.Background(), "ip-10-0-0-1.ec2.internal")
	ae, ok := errors.AsType[*ActionError](err)
	if !ok {
		t.Fatalf("got %v, want an *ActionError", err)
	}
	if ae.ExitCode != 3 || ae.Action != "reboot" || ae.Node != "ip-10-0-0-1.ec2.internal" {
		t.Errorf("ActionError %+v", ae)
	}
	if len(ae.Stderr) > stderrTailBytes+4 || !strings.Contains(ae.Stderr, "UnauthorizedOperation") {
		t.Errorf("stderr tail is %d bytes: %q", len(ae.Stderr), ae.Stderr[max(0, len(ae.Stderr)-100):])
	}
	for _, w := range []string{"reboot ip-10-0-0-1.ec2.internal:", "exited with status 3", "UnauthorizedOperation"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

func TestFleetActionCancelled(t *testing.T) {
	f := newFakes(t)
	fleet := fakeFleet(t, f, nil)
	f.set("hang", "")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := fleet.Reboot(ctx, "ip-10-0-0-1.ec2.internal")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the cancelled action took %s to stop", took)
	}
}

func TestFleetRESTConfig(t *testing.T) {
	f := newFakes(t)
	fleet := fakeFleet(t, f, func(inv map[string]any) {
		inv["clusters"].([]any)[0].(map[string]any)["api_netns"] = "/run/netns/as-x-fabric"
	})
	parent, err := fleet.RESTConfig("us1-parent")
	if err != nil {
		t.Fatal(err)
	}
	if parent.Host != "https://10.0.0.1:6443" || parent.BearerToken != "secret" || parent.Dial == nil {
		t.Errorf("parent config: host %q token %q dial set %t", parent.Host, parent.BearerToken, parent.Dial != nil)
	}
	app, err := fleet.RESTConfig("us1-app")
	if err != nil {
		t.Fatal(err)
	}
	if app.Host != "https://10.0.0.1:6443" || app.Dial != nil || app.Timeout == 0 {
		t.Errorf("app config: host %q dial set %t timeout %s", app.Host, app.Dial != nil, app.Timeout)
	}
	if _, err := fleet.RESTConfig("nope"); err == nil {
		t.Error("RESTConfig of an unknown cluster succeeded")
	}

	inv, err := ParseInventory(mustJSON(t, func() map[string]any {
		raw := sampleInventory()
		raw["clusters"].([]any)[1].(map[string]any)["kubeconfig_path"] = "/nonexistent/kubeconfig"
		raw["clusters"].([]any)[0].(map[string]any)["context"] = "missing"
		return raw
	}()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewFleet(inv, FleetOptions{})
	for _, w := range []string{`cluster us1-parent: kubeconfig has no context "missing"`, "cluster us1-app: kubeconfig_path:"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("NewFleet with bad kubeconfigs: %v, want it to say %q", err, w)
		}
	}
}

// inlineInventory parses raw with every cluster's kubeconfig inline.
func inlineInventory(t *testing.T, raw map[string]any) *Inventory {
	t.Helper()
	for _, c := range raw["clusters"].([]any) {
		c := c.(map[string]any)
		delete(c, "kubeconfig_path")
		delete(c, "context")
		c["kubeconfig"] = sampleKubeconfig
	}
	inv, err := ParseInventory(mustJSON(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestFleetBlastRadius(t *testing.T) {
	tests := []struct {
		name      string
		opt       float64
		inventory any // max_blast_radius in the inventory, or nil
		wantCap   float64
	}{
		{"default", 0, nil, DefaultMaxBlastRadius},
		{"caller's cap", 0.5, nil, 0.5},
		{"inventory lowers it", 0.5, 0.2, 0.2},
		{"inventory cannot raise it", 0, 0.9, DefaultMaxBlastRadius},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := sampleInventory()
			if tt.inventory != nil {
				raw["max_blast_radius"] = tt.inventory
			}
			fleet, err := NewFleet(inlineInventory(t, raw), FleetOptions{MaxBlastRadius: tt.opt})
			if err != nil {
				t.Fatal(err)
			}
			if fleet.MaxBlastRadius() != tt.wantCap {
				t.Errorf("MaxBlastRadius() = %v, want %v", fleet.MaxBlastRadius(), tt.wantCap)
			}
			allowed := int(tt.wantCap * 3)
			if err := fleet.CheckBlastRadius(allowed); err != nil {
				t.Errorf("%d of 3 nodes refused: %v", allowed, err)
			}
			err = fleet.CheckBlastRadius(allowed + 1)
			if be, ok := errors.AsType[*BlastRadiusError](err); !ok || !errors.Is(err, ErrBlastRadius) || be.Selected != allowed+1 || be.Total != 3 {
				t.Errorf("%d of 3 nodes: %v, want a *BlastRadiusError", allowed+1, err)
			}
		})
	}
}

func TestFleetDown(t *testing.T) {
	calls, fail := 0, true
	fleet, err := NewFleet(inlineInventory(t, sampleInventory()), FleetOptions{Down: func(context.Context) error {
		calls++
		if fail {
			return errors.New("destroy failed")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := fleet.Down(ctx); err == nil {
		t.Error("a failed Down returned nil")
	}
	fail = false
	if err := fleet.Down(ctx); err != nil {
		t.Error(err)
	}
	if err := fleet.Down(ctx); err != nil {
		t.Error(err)
	}
	if calls != 2 {
		t.Errorf("Down ran its destroy %d times, want 2 (retried after a failure, then never again)", calls)
	}
}
