package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/lab/internal/namespace"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// state is everything needed to find, observe and tear down a running lab
// from another process (aftershock lab status, lab down, cleanup). It is
// written to <dir>/state.json before anything is created, and updated as the
// lab grows, so that even a half-started lab can be torn down.
type state struct {
	RunID    string            `json:"runID"`
	Dir      string            `json:"dir"`
	Topology topology.Topology `json:"topology"`
	// Fabric is the namespace holding one bridge per region.
	Fabric   string         `json:"fabric"`
	Regions  []regionState  `json:"regions"`
	Nodes    []nodeState    `json:"nodes"`
	Clusters []clusterState `json:"clusters"`
	Services []serviceState `json:"services,omitempty"`
}

type regionState struct {
	Name   string `json:"name"`
	Bridge string `json:"bridge"`
	// Gateway is the bridge's address in the fabric namespace.
	Gateway string `json:"gateway"`
	// Subnet is the region's node subnet, e.g. 10.1.0.0/16.
	Subnet string `json:"subnet"`
}

type nodeState struct {
	infra.Node
	Namespace string `json:"namespace"`
	// FabricVeth is the node's veth end on its region's bridge.
	FabricVeth string `json:"fabricVeth"`
	Terminated bool   `json:"terminated,omitempty"`
}

type clusterState struct {
	Name     string `json:"name"`
	Region   string `json:"region"`
	HostNode string `json:"hostNode"`
	// Address is the host node's address, where the API server listens.
	Address        string `json:"address"`
	APIPort        int    `json:"apiPort"`
	EtcdClientPort int    `json:"etcdClientPort"`
	EtcdPeerPort   int    `json:"etcdPeerPort"`
	// Kubeconfig is an admin kubeconfig for the cluster; its server is only
	// reachable from inside the fabric namespace or the region's nodes.
	Kubeconfig string `json:"kubeconfig"`
}

const stateFile = "state.json"

func (s *state) save() error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lab state: %w", err)
	}
	tmp := filepath.Join(s.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.Dir, stateFile)); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	return nil
}

func loadState(dir string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("read lab state: %w", err)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode lab state %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

func (s *state) node(name string) (*nodeState, error) {
	for i := range s.Nodes {
		if s.Nodes[i].Name == name {
			return &s.Nodes[i], nil
		}
	}
	return nil, fmt.Errorf("lab %s has no node %q", s.RunID, name)
}

func (s *state) cluster(name string) (*clusterState, error) {
	for i := range s.Clusters {
		if s.Clusters[i].Name == name {
			return &s.Clusters[i], nil
		}
	}
	return nil, fmt.Errorf("lab %s has no cluster %q", s.RunID, name)
}

func (s *state) region(name string) (*regionState, error) {
	for i := range s.Regions {
		if s.Regions[i].Name == name {
			return &s.Regions[i], nil
		}
	}
	return nil, fmt.Errorf("lab %s has no region %q", s.RunID, name)
}

// hostedClusters lists the clusters whose control plane runs on the node.
func (s *state) hostedClusters(node string) []*clusterState {
	var out []*clusterState
	for i := range s.Clusters {
		if s.Clusters[i].HostNode == node {
			out = append(out, &s.Clusters[i])
		}
	}
	return out
}

// Runs lists the run IDs of the labs whose state is under root.
func Runs(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list labs in %s: %w", root, err)
	}
	var ids []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(root, e.Name(), stateFile)); err == nil {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// NamespaceRuns lists the run IDs of every lab that has a network namespace
// on this machine, whatever its state root, including labs whose state is
// gone (a crash, a deleted folder).
func NamespaceRuns() ([]string, error) {
	names, err := namespace.List(NamespacePrefix)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []string
	for _, n := range names {
		if id, _, ok := strings.Cut(strings.TrimPrefix(n, NamespacePrefix), "-"); ok && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}
