package terraform

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/aftershock-sre/aftershock/infra/topology"
)

// topologyFile is a topology in the YAML format topology.Parse reads.
type topologyFile struct {
	Name    string       `yaml:"name,omitempty"`
	Timing  timingFile   `yaml:"timing"`
	CNI     cniFile      `yaml:"cni"`
	Regions []regionFile `yaml:"regions"`
}

type timingFile struct {
	Heartbeat              string `yaml:"heartbeat"`
	NodeMonitorGracePeriod string `yaml:"nodeMonitorGracePeriod"`
}

type cniFile struct {
	RuleProtocol string `yaml:"ruleProtocol"`
	RouteTable   int    `yaml:"routeTable"`
}

type regionFile struct {
	Name     string        `yaml:"name"`
	Cloud    string        `yaml:"cloud"`
	Clusters []clusterFile `yaml:"clusters"`
}

type clusterFile struct {
	Name          string `yaml:"name"`
	Role          string `yaml:"role"`
	Parent        string `yaml:"parent,omitempty"`
	ControlPlanes int    `yaml:"controlPlanes"`
	Workers       int    `yaml:"workers"`
}

// MarshalTopology encodes t as a topology YAML file (aftershock lab up
// --topology reads it), with defaults applied.
func MarshalTopology(t topology.Topology) ([]byte, error) {
	t = t.WithDefaults()
	f := topologyFile{
		Name: t.Name,
		Timing: timingFile{
			Heartbeat:              t.Timing.Heartbeat.String(),
			NodeMonitorGracePeriod: t.Timing.NodeMonitorGracePeriod.String(),
		},
		CNI: cniFile{RuleProtocol: string(t.CNI.RuleProtocol), RouteTable: t.CNI.RouteTable},
	}
	for _, r := range t.Regions {
		rf := regionFile{Name: r.Name, Cloud: string(r.Cloud)}
		for _, c := range r.Clusters {
			rf.Clusters = append(rf.Clusters, clusterFile{
				Name: c.Name, Role: string(c.Role), Parent: c.Parent, ControlPlanes: c.ControlPlanes, Workers: c.Workers,
			})
		}
		f.Regions = append(f.Regions, rf)
	}
	out, err := yaml.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode topology %s: %w", t.Name, err)
	}
	return out, nil
}

// writeTopology writes t as YAML to path.
func writeTopology(path string, t topology.Topology) error {
	data, err := MarshalTopology(t)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write topology for terraform: %w", err)
	}
	return nil
}

// MatchTopology reports how the fleet a module built differs from the one a
// scenario described: regions and their clouds, clusters with their role,
// parent and node counts. The error wraps ErrTopologyMismatch.
func MatchTopology(want, got topology.Topology) error {
	var diffs []string
	gotRegions := map[string]topology.Region{}
	for _, r := range got.Regions {
		gotRegions[r.Name] = r
	}
	wantRegions := map[string]bool{}
	for _, wr := range want.Regions {
		wantRegions[wr.Name] = true
		gr, ok := gotRegions[wr.Name]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("region %s is missing", wr.Name))
			continue
		}
		if gr.Cloud != wr.Cloud {
			diffs = append(diffs, fmt.Sprintf("region %s is on %s, want %s", wr.Name, gr.Cloud, wr.Cloud))
		}
		gotClusters := map[string]topology.Cluster{}
		for _, c := range gr.Clusters {
			gotClusters[c.Name] = c
		}
		wantClusters := map[string]bool{}
		for _, wc := range wr.Clusters {
			wantClusters[wc.Name] = true
			gc, ok := gotClusters[wc.Name]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("cluster %s of region %s is missing", wc.Name, wr.Name))
				continue
			}
			if gc.Role != wc.Role || gc.Parent != wc.Parent {
				diffs = append(diffs, fmt.Sprintf("cluster %s is %s%s, want %s%s", wc.Name, gc.Role, parentOf(gc), wc.Role, parentOf(wc)))
			}
			if gc.ControlPlanes != wc.ControlPlanes || gc.Workers != wc.Workers {
				diffs = append(diffs, fmt.Sprintf("cluster %s has %d control-plane nodes and %d workers, want %d and %d",
					wc.Name, gc.ControlPlanes, gc.Workers, wc.ControlPlanes, wc.Workers))
			}
		}
		for _, gc := range gr.Clusters {
			if !wantClusters[gc.Name] {
				diffs = append(diffs, fmt.Sprintf("cluster %s of region %s is not in the scenario", gc.Name, wr.Name))
			}
		}
	}
	for _, gr := range got.Regions {
		if !wantRegions[gr.Name] {
			diffs = append(diffs, fmt.Sprintf("region %s is not in the scenario", gr.Name))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrTopologyMismatch, strings.Join(diffs, "; "))
}

func parentOf(c topology.Cluster) string {
	if c.Parent == "" {
		return ""
	}
	return " of " + c.Parent
}
