package terraform

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// sampleInventory is a valid aftershock_fleet value: one region with a
// parent and a child cluster, as a module would output it.
func sampleInventory() map[string]any {
	return map[string]any{
		"version":          1,
		"name":             "game-day",
		"game_day":         true,
		"node_journal_dir": "/var/lib/aftershock",
		"actions": map[string]any{
			"reboot":    []any{"aws", "ec2", "reboot-instances", "--instance-ids", "{{id}}"},
			"terminate": []any{"aws", "ec2", "terminate-instances", "--instance-ids", "{{id}}"},
			"exec":      []any{"ssh", "admin@{{address}}", "sudo {{command}}"},
		},
		"regions": []any{
			map[string]any{"name": "us1", "cloud": "aws"},
		},
		"clusters": []any{
			map[string]any{"name": "us1-parent", "region": "us1", "role": "parent", "parent": nil,
				"kubeconfig": sampleKubeconfig},
			map[string]any{"name": "us1-app", "region": "us1", "role": "child", "parent": "us1-parent",
				"kubeconfig_path": "/etc/kubeconfigs/us1-app", "context": "app"},
		},
		"nodes": []any{
			map[string]any{"id": "i-0001", "name": "ip-10-0-0-1.ec2.internal", "region": "us1", "cluster": "us1-parent",
				"role": "control-plane", "address": "10.0.0.1", "labels": map[string]any{"node.kubernetes.io/instance-type": "m5.large"}},
			map[string]any{"id": "i-0002", "name": "ip-10-0-0-2.ec2.internal", "region": "us1", "cluster": "us1-parent",
				"role": "worker", "address": "10.0.0.2"},
			map[string]any{"id": "i-0003", "name": "ip-10-0-1-3.ec2.internal", "region": "us1", "cluster": "us1-app",
				"role": "worker", "address": "10.0.1.3", "netns": "/run/netns/node3",
				"actions": map[string]any{"reboot": []any{"ssh", "{{address}}", "sudo", "reboot"}}},
		},
	}
}

const sampleKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: parent
  cluster:
    server: https://10.0.0.1:6443
    insecure-skip-tls-verify: true
contexts:
- name: parent
  context: {cluster: parent, user: admin}
- name: other
  context: {cluster: parent, user: admin}
current-context: parent
users:
- name: admin
  user: {token: secret}
`

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseInventory(t *testing.T) {
	inv, err := ParseInventory(mustJSON(t, sampleInventory()))
	if err != nil {
		t.Fatal(err)
	}
	if !inv.GameDay || inv.Name != "game-day" || inv.NodeJournalDir != "/var/lib/aftershock" {
		t.Errorf("fleet fields: %+v", inv)
	}
	if got := strings.Join(inv.AftershockCommand, " "); got != "aftershock" {
		t.Errorf("aftershock_command defaults to aftershock, got %q", got)
	}
	if len(inv.Regions) != 1 || len(inv.Clusters) != 2 || len(inv.Nodes) != 3 {
		t.Fatalf("got %d regions, %d clusters, %d nodes", len(inv.Regions), len(inv.Clusters), len(inv.Nodes))
	}
	n0, n2 := inv.Nodes[0], inv.Nodes[2]
	if n0.Labels["node.kubernetes.io/instance-type"] != "m5.large" {
		t.Errorf("declared label lost: %v", n0.Labels)
	}
	for k, v := range infra.NodeLabels(topology.Node{Region: "us1", Cloud: "aws", Cluster: "us1-parent",
		ClusterRole: topology.Parent, Role: topology.ControlPlane}) {
		if n0.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, n0.Labels[k], v)
		}
	}
	if got := strings.Join(n2.Actions.Reboot, " "); got != "ssh {{address}} sudo reboot" {
		t.Errorf("a node's own reboot wins over the fleet's: got %q", got)
	}
	if got := strings.Join(n2.Actions.Terminate, " "); !strings.HasPrefix(got, "aws ec2 terminate-instances") {
		t.Errorf("a node without its own terminate takes the fleet's: got %q", got)
	}
	if n2.NetNS != "/run/netns/node3" || n0.NetNS != "" {
		t.Errorf("netns: %q, %q", n0.NetNS, n2.NetNS)
	}
	topo := inv.Topology("terraform:test")
	want := []topology.Cluster{
		{Name: "us1-parent", Role: topology.Parent, ControlPlanes: 1, Workers: 1},
		{Name: "us1-app", Role: topology.Child, Parent: "us1-parent", Workers: 1},
	}
	if len(topo.Regions) != 1 || topo.Regions[0].Cloud != topology.AWS || len(topo.Regions[0].Clusters) != 2 {
		t.Fatalf("topology: %+v", topo)
	}
	for i, c := range topo.Regions[0].Clusters {
		w := want[i]
		if c.Name != w.Name || c.Role != w.Role || c.Parent != w.Parent || c.ControlPlanes != w.ControlPlanes || c.Workers != w.Workers {
			t.Errorf("cluster %d: got %+v, want %+v", i, c, w)
		}
	}
	if topo.Source != "terraform:test" || topo.Timing.Heartbeat == 0 {
		t.Errorf("topology source and defaults: %q %v", topo.Source, topo.Timing)
	}
}

// TestParseInventoryRejects feeds malformed outputs: each must fail with an
// *InventoryError naming the field and the node, cluster or region.
func TestParseInventoryRejects(t *testing.T) {
	node := func(inv map[string]any, i int) map[string]any { return inv["nodes"].([]any)[i].(map[string]any) }
	cluster := func(inv map[string]any, i int) map[string]any { return inv["clusters"].([]any)[i].(map[string]any) }
	tests := []struct {
		name   string
		mutate func(inv map[string]any)
		raw    string // instead of mutate
		want   []string
	}{
		{name: "not JSON", raw: `{"version":`, want: []string{"aftershock_fleet: not JSON"}},
		{name: "a list", raw: `[1]`, want: []string{"aftershock_fleet: is a list, want an object"}},
		{name: "version missing", mutate: func(inv map[string]any) { delete(inv, "version") },
			want: []string{"aftershock_fleet.version: is missing"}},
		{name: "version 2", mutate: func(inv map[string]any) { inv["version"] = 2 },
			want: []string{"aftershock_fleet.version: is 2, want 1"}},
		{name: "unknown top-level field", mutate: func(inv map[string]any) { inv["node"] = []any{} },
			want: []string{"aftershock_fleet.node: unknown field"}},
		{name: "game_day a string", mutate: func(inv map[string]any) { inv["game_day"] = "yes" },
			want: []string{`aftershock_fleet.game_day: is the string "yes", want true or false`}},
		{name: "blast radius above 1", mutate: func(inv map[string]any) { inv["max_blast_radius"] = 1.5 },
			want: []string{"aftershock_fleet.max_blast_radius: is 1.5, want a share of nodes above 0 and at most 1"}},
		{name: "relative journal dir", mutate: func(inv map[string]any) { inv["node_journal_dir"] = "journals" },
			want: []string{`aftershock_fleet.node_journal_dir: "journals" is not an absolute path`}},
		{name: "no regions", mutate: func(inv map[string]any) { inv["regions"] = []any{} },
			want: []string{"aftershock_fleet.regions: is empty", `unknown region "us1"`}},
		{name: "unknown cloud", mutate: func(inv map[string]any) {
			inv["regions"].([]any)[0].(map[string]any)["cloud"] = "ibm"
		}, want: []string{`aftershock_fleet.regions[0] "us1".cloud: unknown cloud "ibm" (want aws, gcp or azure)`}},
		{name: "duplicate region", mutate: func(inv map[string]any) {
			inv["regions"] = append(inv["regions"].([]any), map[string]any{"name": "us1", "cloud": "gcp"})
		}, want: []string{`aftershock_fleet.regions[1] "us1".name: duplicate region name "us1"`}},
		{name: "cluster in unknown region", mutate: func(inv map[string]any) { cluster(inv, 1)["region"] = "eu1" },
			want: []string{`aftershock_fleet.clusters[1] "us1-app".region: unknown region "eu1" (want one of us1)`}},
		{name: "cluster role", mutate: func(inv map[string]any) { cluster(inv, 0)["role"] = "root" },
			want: []string{`aftershock_fleet.clusters[0] "us1-parent".role: unknown role "root" (want parent or child)`}},
		{name: "child without parent", mutate: func(inv map[string]any) { delete(cluster(inv, 1), "parent") },
			want: []string{`aftershock_fleet.clusters[1] "us1-app".parent: is missing`}},
		{name: "child of a child", mutate: func(inv map[string]any) { cluster(inv, 1)["parent"] = "us1-app" },
			want: []string{`aftershock_fleet.clusters[1] "us1-app".parent: "us1-app" is not a parent cluster`}},
		{name: "parent with a parent", mutate: func(inv map[string]any) { cluster(inv, 0)["parent"] = "us1-app" },
			want: []string{`aftershock_fleet.clusters[0] "us1-parent".parent: is "us1-app", but only child clusters have a parent`}},
		{name: "no kubeconfig", mutate: func(inv map[string]any) { delete(cluster(inv, 0), "kubeconfig") },
			want: []string{`aftershock_fleet.clusters[0] "us1-parent": has no kubeconfig`}},
		{name: "two kubeconfigs", mutate: func(inv map[string]any) { cluster(inv, 1)["kubeconfig"] = sampleKubeconfig },
			want: []string{`aftershock_fleet.clusters[1] "us1-app": sets both kubeconfig_path and kubeconfig`}},
		{name: "cluster name not a DNS label", mutate: func(inv map[string]any) { cluster(inv, 0)["name"] = "US1_Parent" },
			want: []string{`aftershock_fleet.clusters[0] "US1_Parent".name: "US1_Parent" is not a lowercase DNS label`}},
		{name: "cluster without nodes", mutate: func(inv map[string]any) {
			inv["nodes"] = inv["nodes"].([]any)[:2]
		}, want: []string{`aftershock_fleet.clusters "us1-app": has no nodes`}},
		{name: "node with unknown cluster", mutate: func(inv map[string]any) { node(inv, 1)["cluster"] = "us1-db" },
			want: []string{`aftershock_fleet.nodes[1] "ip-10-0-0-2.ec2.internal".cluster: unknown cluster "us1-db" (want one of us1-parent, us1-app)`}},
		{name: "node missing its address", mutate: func(inv map[string]any) { delete(node(inv, 2), "address") },
			want: []string{`aftershock_fleet.nodes[2] "ip-10-0-1-3.ec2.internal".address: is missing`}},
		{name: "node address not an IP", mutate: func(inv map[string]any) { node(inv, 0)["address"] = "10.0.0.300" },
			want: []string{`aftershock_fleet.nodes[0] "ip-10-0-0-1.ec2.internal".address: "10.0.0.300" is not an IP address`}},
		{name: "node address a number", mutate: func(inv map[string]any) { node(inv, 0)["address"] = 10 },
			want: []string{`aftershock_fleet.nodes[0] "ip-10-0-0-1.ec2.internal".address: is the number 10, want a string`}},
		{name: "node role", mutate: func(inv map[string]any) { node(inv, 1)["role"] = "master" },
			want: []string{`.role: unknown role "master" (want control-plane or worker)`}},
		{name: "node in another region than its cluster", mutate: func(inv map[string]any) {
			inv["regions"] = append(inv["regions"].([]any), map[string]any{"name": "eu1", "cloud": "gcp"})
			node(inv, 1)["region"] = "eu1"
		}, want: []string{`aftershock_fleet.nodes[1] "ip-10-0-0-2.ec2.internal".region: is "eu1", but its cluster "us1-parent" is in region "us1"`}},
		{name: "duplicate node name", mutate: func(inv map[string]any) { node(inv, 1)["name"] = "ip-10-0-0-1.ec2.internal" },
			want: []string{`aftershock_fleet.nodes[1] "ip-10-0-0-1.ec2.internal".name: duplicate node name`}},
		{name: "duplicate node id", mutate: func(inv map[string]any) { node(inv, 2)["id"] = "i-0001" },
			want: []string{`aftershock_fleet.nodes[2] "ip-10-0-1-3.ec2.internal".id: duplicate node id "i-0001" (also nodes[0]`}},
		{name: "node name not a Kubernetes name", mutate: func(inv map[string]any) { node(inv, 0)["name"] = "Node_1" },
			want: []string{`aftershock_fleet.nodes[0] "Node_1".name: "Node_1" is not a Kubernetes node name`}},
		{name: "bad label value", mutate: func(inv map[string]any) {
			node(inv, 0)["labels"] = map[string]any{"team": "platform team"}
		}, want: []string{`aftershock_fleet.nodes[0] "ip-10-0-0-1.ec2.internal".labels.team: "platform team" is not a Kubernetes label value`}},
		{name: "label that contradicts the node", mutate: func(inv map[string]any) {
			node(inv, 0)["labels"] = map[string]any{infra.LabelCluster: "us1-app"}
		}, want: []string{`labels.aftershock.io/cluster: is "us1-app", but the node's fields say "us1-parent"`}},
		{name: "no exec anywhere", mutate: func(inv map[string]any) { delete(inv["actions"].(map[string]any), "exec") },
			want: []string{`aftershock_fleet.nodes[0] "ip-10-0-0-1.ec2.internal".actions.exec: is missing: declare it on the node or in the fleet's actions`}},
		{name: "empty argv", mutate: func(inv map[string]any) { inv["actions"].(map[string]any)["reboot"] = []any{} },
			want: []string{"aftershock_fleet.actions.reboot: has no program"}},
		{name: "argv a string", mutate: func(inv map[string]any) { inv["actions"].(map[string]any)["reboot"] = "reboot" },
			want: []string{`aftershock_fleet.actions.reboot: is the string "reboot", want a list of strings`}},
		{name: "unknown placeholder", mutate: func(inv map[string]any) {
			node(inv, 2)["actions"] = map[string]any{"reboot": []any{"ssh", "{{ip}}", "reboot"}}
		}, want: []string{`aftershock_fleet.nodes[2] "ip-10-0-1-3.ec2.internal".actions.reboot[1]: unknown placeholder {{ip}}`}},
		{name: "command placeholder outside exec", mutate: func(inv map[string]any) {
			inv["actions"].(map[string]any)["terminate"] = []any{"sh", "-c", "{{command}}"}
		}, want: []string{"aftershock_fleet.actions.terminate[2]: unknown placeholder {{command}}"}},
		{name: "argv inside an element", mutate: func(inv map[string]any) {
			inv["actions"].(map[string]any)["exec"] = []any{"ssh", "host", "sudo {{argv}}"}
		}, want: []string{"aftershock_fleet.actions.exec[2]: {{argv}} must be a whole element"}},
		{name: "relative netns", mutate: func(inv map[string]any) { node(inv, 2)["netns"] = "netns/node3" },
			want: []string{`.netns: "netns/node3" is not an absolute path`}},
		{name: "several problems at once", mutate: func(inv map[string]any) {
			node(inv, 0)["address"] = "nowhere"
			node(inv, 1)["cluster"] = "nope"
		}, want: []string{`nodes[0] "ip-10-0-0-1.ec2.internal".address`, `nodes[1] "ip-10-0-0-2.ec2.internal".cluster: unknown cluster "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(tt.raw)
			if tt.mutate != nil {
				inv := sampleInventory()
				tt.mutate(inv)
				raw = mustJSON(t, inv)
			}
			_, err := ParseInventory(raw)
			if err == nil {
				t.Fatal("ParseInventory accepted it")
			}
			if !errors.Is(err, ErrInvalidInventory) {
				t.Errorf("errors.Is(err, ErrInvalidInventory) is false for %v", err)
			}
			if _, ok := errors.AsType[*InventoryError](err); !ok {
				t.Errorf("no *InventoryError in %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}
