package topology

import (
	"reflect"
	"strings"
	"testing"
)

func TestPresets(t *testing.T) {
	tests := []struct {
		name     string
		regions  []string
		clouds   []Cloud
		nodes    int
		clusters int
	}{
		{"tiny", []string{"eu1"}, []Cloud{GCP}, 4, 2},
		{"two-regions", []string{"us1", "eu1"}, []Cloud{AWS, GCP}, 18, 6},
		{"three-regions", []string{"us1", "eu1", "us3"}, []Cloud{AWS, GCP, Azure}, 48, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top, err := Preset(tt.name)
			if err != nil {
				t.Fatalf("Preset: %v", err)
			}
			if err := top.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if top.Name != tt.name || top.Source != "preset:"+tt.name {
				t.Errorf("name %q source %q, want %q and %q", top.Name, top.Source, tt.name, "preset:"+tt.name)
			}
			if d := top.WithDefaults(); top.Timing != d.Timing || top.CNI != d.CNI {
				t.Errorf("defaults not applied: %+v %+v", top.Timing, top.CNI)
			}
			var regions []string
			var clouds []Cloud
			for _, r := range top.Regions {
				regions = append(regions, r.Name)
				clouds = append(clouds, r.Cloud)
			}
			if !reflect.DeepEqual(regions, tt.regions) || !reflect.DeepEqual(clouds, tt.clouds) {
				t.Errorf("regions %v on %v, want %v on %v", regions, clouds, tt.regions, tt.clouds)
			}
			if n := len(top.Nodes()); n != tt.nodes {
				t.Errorf("%d nodes, want %d", n, tt.nodes)
			}
			if n := len(top.Clusters()); n != tt.clusters {
				t.Errorf("%d clusters, want %d", n, tt.clusters)
			}
		})
	}
}

func TestPresetNames(t *testing.T) {
	want := []string{"three-regions", "tiny", "two-regions"}
	if got := PresetNames(); !reflect.DeepEqual(got, want) {
		t.Errorf("PresetNames() = %v, want %v", got, want)
	}
}

func TestPresetUnknown(t *testing.T) {
	_, err := Preset("huge")
	if err == nil {
		t.Fatal("Preset(huge) succeeded")
	}
	for _, want := range []string{`"huge"`, "three-regions, tiny, two-regions"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestPresetIsACopy(t *testing.T) {
	a, _ := Preset("tiny")
	a.Regions[0].Clusters[0].Workers = 99
	b, _ := Preset("tiny")
	if b.Regions[0].Clusters[0].Workers == 99 {
		t.Error("changing a preset changed the next one")
	}
}

func TestUniform(t *testing.T) {
	top := Uniform("lab", []RegionShape{{"us1", AWS}, {"eu1", GCP}},
		ClusterShape{ParentControlPlanes: 3, ParentWorkers: 2, Children: 2, ChildWorkers: 1})
	want := Topology{
		Name:   "lab",
		Source: "preset:lab",
		Timing: Timing{Heartbeat: DefaultHeartbeat, NodeMonitorGracePeriod: DefaultNodeMonitorGracePeriod},
		CNI:    CNI{RuleProtocol: ProtoUnspec, RouteTable: DefaultRouteTable},
		Regions: []Region{
			{Name: "us1", Cloud: AWS, Clusters: []Cluster{
				{Name: "us1-parent", Role: Parent, ControlPlanes: 3, Workers: 2},
				{Name: "us1-app1", Role: Child, Parent: "us1-parent", Workers: 1},
				{Name: "us1-app2", Role: Child, Parent: "us1-parent", Workers: 1},
			}},
			{Name: "eu1", Cloud: GCP, Clusters: []Cluster{
				{Name: "eu1-parent", Role: Parent, ControlPlanes: 3, Workers: 2},
				{Name: "eu1-app1", Role: Child, Parent: "eu1-parent", Workers: 1},
				{Name: "eu1-app2", Role: Child, Parent: "eu1-parent", Workers: 1},
			}},
		},
	}
	if !reflect.DeepEqual(top, want) {
		t.Errorf("Uniform:\n got %+v\nwant %+v", top, want)
	}
	if err := top.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}
