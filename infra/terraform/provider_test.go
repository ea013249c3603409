package terraform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aftershock-sre/aftershock/infra/topology"
)

// sampleTopology is the topology sampleInventory describes.
func sampleTopology() topology.Topology {
	return topology.Topology{Name: "sample", Regions: []topology.Region{{
		Name: "us1", Cloud: topology.AWS, Clusters: []topology.Cluster{
			{Name: "us1-parent", Role: topology.Parent, ControlPlanes: 1, Workers: 1},
			{Name: "us1-app", Role: topology.Child, Parent: "us1-parent", Workers: 1},
		},
	}}}
}

func outputJSON(t *testing.T, inv map[string]any) string {
	return fmt.Sprintf(`{"aftershock_fleet":{"sensitive":false,"type":"object","value":%s}}`, mustJSON(t, inv))
}

func inlineKubeconfigs(inv map[string]any) map[string]any {
	for _, c := range inv["clusters"].([]any) {
		c := c.(map[string]any)
		delete(c, "kubeconfig_path")
		delete(c, "context")
		c["kubeconfig"] = sampleKubeconfig
	}
	return inv
}

func TestProviderApplyAndDestroy(t *testing.T) {
	f := newFakes(t)
	f.set("plan.json", planJSON(true))
	f.set("output.json", outputJSON(t, inlineKubeconfigs(sampleInventory())))
	p := Provider{
		Module:      Options{Dir: t.TempDir(), Binary: f.terraform(), Vars: []string{"aftershock_game_day=true"}},
		Apply:       true,
		Destroy:     true,
		TopologyVar: "topology_file",
	}
	if p.Name() != "terraform" {
		t.Errorf("Name() = %q", p.Name())
	}
	ctx := context.Background()
	fleet, err := p.Up(ctx, sampleTopology())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.subcommands(), []string{"init", "plan", "show", "apply", "output"}; !slices.Equal(got, want) {
		t.Errorf("Up ran terraform %q, want %q", got, want)
	}
	plan := f.call("plan")
	i := slices.IndexFunc(plan, func(a string) bool { return strings.HasPrefix(a, "topology_file=") })
	if i < 0 {
		t.Fatalf("plan %q does not pass the scenario's topology", plan)
	}
	data, err := os.ReadFile(strings.TrimPrefix(plan[i], "topology_file="))
	if err != nil {
		t.Fatal(err)
	}
	passed, err := topology.Parse("passed.yaml", data)
	if err != nil {
		t.Fatalf("the topology file the module gets does not parse: %v\n%s", err, data)
	}
	if err := MatchTopology(sampleTopology(), passed); err != nil {
		t.Errorf("the module gets another topology: %v", err)
	}
	if len(fleet.Nodes()) != 3 || fleet.Topology().Source == "" {
		t.Errorf("fleet: %d nodes, source %q", len(fleet.Nodes()), fleet.Topology().Source)
	}
	if err := fleet.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.call("plan"); !slices.Contains(got, "-destroy") {
		t.Errorf("Down did not plan a destroy: %q", got)
	}
	if got := f.subcommands(); got[len(got)-1] != "apply" {
		t.Errorf("Down did not apply the destroy: %q", got)
	}
}

func TestProviderRefusals(t *testing.T) {
	ctx := context.Background()
	t.Run("topology mismatch destroys what it applied", func(t *testing.T) {
		f := newFakes(t)
		f.set("plan.json", planJSON(true))
		f.set("output.json", outputJSON(t, inlineKubeconfigs(sampleInventory())))
		p := Provider{Module: Options{Dir: t.TempDir(), Binary: f.terraform()}, Apply: true, Destroy: true, TopologyVar: "topology_file"}
		want := sampleTopology()
		want.Regions[0].Clusters[1].Workers = 4
		_, err := p.Up(ctx, want)
		if !errors.Is(err, ErrTopologyMismatch) || !strings.Contains(err.Error(), "cluster us1-app has 0 control-plane nodes and 1 workers, want 0 and 4") {
			t.Fatalf("got %v", err)
		}
		if got := f.subcommands(); !slices.Equal(got[len(got)-3:], []string{"plan", "show", "apply"}) || !slices.Contains(f.call("plan"), "-destroy") {
			t.Errorf("a failed Up left what it applied: ran %q", f.calls())
		}
	})
	t.Run("unmarked apply", func(t *testing.T) {
		f := newFakes(t)
		f.set("plan.json", planJSON(false))
		p := Provider{Module: Options{Dir: t.TempDir(), Binary: f.terraform()}, Apply: true, Destroy: true}
		_, err := p.Up(ctx, sampleTopology())
		if !errors.Is(err, ErrNotMarked) {
			t.Fatalf("got %v", err)
		}
		if got := f.subcommands(); slices.Contains(got, "apply") {
			t.Errorf("ran %q", got)
		}
	})
	t.Run("attach needs the inventory's game_day", func(t *testing.T) {
		f := newFakes(t)
		inv := inlineKubeconfigs(sampleInventory())
		inv["game_day"] = false
		f.set("output.json", outputJSON(t, inv))
		p := Provider{Module: Options{Dir: t.TempDir(), Binary: f.terraform()}}
		_, err := p.Up(ctx, sampleTopology())
		if !errors.Is(err, ErrNotMarked) || !strings.Contains(err.Error(), "game_day = true") {
			t.Fatalf("got %v", err)
		}
		if got, want := f.subcommands(), []string{"init", "output"}; !slices.Equal(got, want) {
			t.Errorf("attach ran %q, want %q", got, want)
		}
	})
	t.Run("attach leaves the infrastructure alone", func(t *testing.T) {
		f := newFakes(t)
		f.set("output.json", outputJSON(t, inlineKubeconfigs(sampleInventory())))
		p := Provider{Module: Options{Dir: t.TempDir(), Binary: f.terraform()}}
		fleet, err := p.Up(ctx, topology.Topology{})
		if err != nil {
			t.Fatal(err)
		}
		if err := fleet.Down(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := f.subcommands(), []string{"init", "output"}; !slices.Equal(got, want) {
			t.Errorf("attach and Down ran %q, want %q", got, want)
		}
	})
}

func TestMatchTopology(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*topology.Topology)
		want   []string
	}{
		{"same", func(*topology.Topology) {}, nil},
		{"cloud", func(tp *topology.Topology) { tp.Regions[0].Cloud = topology.GCP }, []string{"region us1 is on aws, want gcp"}},
		{"extra region", func(tp *topology.Topology) {
			tp.Regions = append(tp.Regions, topology.Region{Name: "eu1", Cloud: topology.GCP})
		}, []string{"region eu1 is missing"}},
		{"missing cluster", func(tp *topology.Topology) { tp.Regions[0].Clusters = tp.Regions[0].Clusters[:1] },
			[]string{"cluster us1-app of region us1 is not in the scenario"}},
		{"role", func(tp *topology.Topology) { tp.Regions[0].Clusters[1].Parent = "other" },
			[]string{"cluster us1-app is child of us1-parent, want child of other"}},
		{"counts", func(tp *topology.Topology) { tp.Regions[0].Clusters[0].ControlPlanes = 3 },
			[]string{"cluster us1-parent has 1 control-plane nodes and 1 workers, want 3 and 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := sampleTopology()
			tt.mutate(&want)
			err := MatchTopology(want, sampleTopology())
			if tt.want == nil {
				if err != nil {
					t.Errorf("got %v", err)
				}
				return
			}
			if !errors.Is(err, ErrTopologyMismatch) {
				t.Fatalf("got %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
}

func TestMarshalTopologyRoundTrip(t *testing.T) {
	for _, name := range topology.PresetNames() {
		t.Run(name, func(t *testing.T) {
			want, err := topology.Preset(name)
			if err != nil {
				t.Fatal(err)
			}
			want.Timing.Heartbeat *= 2
			want.Timing.NodeMonitorGracePeriod *= 3
			want.CNI.RuleProtocol = topology.ProtoKernel
			data, err := MarshalTopology(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := topology.Parse(name+".yaml", data)
			if err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			if err := MatchTopology(want, got); err != nil {
				t.Error(err)
			}
			if got.Name != want.Name || got.Timing != want.Timing || got.CNI != want.CNI {
				t.Errorf("got %s %+v %+v, want %s %+v %+v", got.Name, got.Timing, got.CNI, want.Name, want.Timing, want.CNI)
			}
		})
	}
}
