package topology

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// RegionShape names a region of a uniform topology and its cloud.
type RegionShape struct {
	Name  string
	Cloud Cloud
}

// ClusterShape is the shape every region of a uniform topology repeats: one
// parent cluster and Children child clusters.
type ClusterShape struct {
	ParentControlPlanes int
	ParentWorkers       int
	Children            int
	ChildWorkers        int
}

// presets are the named topologies the lab can start without a file.
var presets = map[string]func(name string) Topology{
	"tiny": func(name string) Topology {
		return Uniform(name,
			[]RegionShape{{"eu1", GCP}},
			ClusterShape{ParentControlPlanes: 1, ParentWorkers: 1, Children: 1, ChildWorkers: 2})
	},
	"two-regions": func(name string) Topology {
		return Uniform(name,
			[]RegionShape{{"us1", AWS}, {"eu1", GCP}},
			ClusterShape{ParentControlPlanes: 1, ParentWorkers: 2, Children: 2, ChildWorkers: 3})
	},
	"three-regions": func(name string) Topology {
		return Uniform(name,
			[]RegionShape{{"us1", AWS}, {"eu1", GCP}, {"us3", Azure}},
			ClusterShape{ParentControlPlanes: 1, ParentWorkers: 3, Children: 2, ChildWorkers: 6})
	},
}

// PresetNames lists the names Preset knows, sorted.
func PresetNames() []string {
	return slices.Sorted(maps.Keys(presets))
}

// Preset returns the named preset topology, with defaults applied and
// validated. Its Source is "preset:NAME".
func Preset(name string) (Topology, error) {
	build, ok := presets[name]
	if !ok {
		return Topology{}, fmt.Errorf("unknown topology preset %q (known presets: %s)",
			name, strings.Join(PresetNames(), ", "))
	}
	t := build(name)
	if err := t.Validate(); err != nil {
		return Topology{}, err // the messages already name "preset:NAME"
	}
	return t, nil
}

// Uniform builds a topology where every region has the same shape: a parent
// cluster "<region>-parent" and child clusters "<region>-app1".."-appN" whose
// control planes it hosts. Its Source is "preset:"+name; defaults are
// applied. Uniform does not validate the result.
func Uniform(name string, regions []RegionShape, shape ClusterShape) Topology {
	t := Topology{Name: name, Source: "preset:" + name}
	for _, rs := range regions {
		parent := rs.Name + "-parent"
		r := Region{Name: rs.Name, Cloud: rs.Cloud}
		r.Clusters = append(r.Clusters, Cluster{
			Name:          parent,
			Role:          Parent,
			ControlPlanes: shape.ParentControlPlanes,
			Workers:       shape.ParentWorkers,
		})
		for i := 1; i <= shape.Children; i++ {
			r.Clusters = append(r.Clusters, Cluster{
				Name:    rs.Name + "-app" + strconv.Itoa(i),
				Role:    Child,
				Parent:  parent,
				Workers: shape.ChildWorkers,
			})
		}
		t.Regions = append(t.Regions, r)
	}
	return t.WithDefaults()
}
