package topology

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const validFile = `name: lab-fleet
timing:
  heartbeat: 500ms
  nodeMonitorGracePeriod: 2s
cni:
  ruleProtocol: kernel
  routeTable: 2100
regions:
  - name: us1
    cloud: aws
    clusters:
      - name: us1-parent
        role: parent
        controlPlanes: 1
        workers: 2
      - name: us1-app1
        role: child
        parent: us1-parent
        workers: 3
  - name: eu1
    cloud: gcp
    clusters:
      - name: eu1-parent
        role: parent
        controlPlanes: 1
        workers: 1
`

func TestParseValid(t *testing.T) {
	tests := []struct {
		name      string
		source    string
		data      string
		want      Topology
		wantNodes []string
	}{
		{
			name:   "full file",
			source: "fleets/lab.yaml",
			data:   validFile,
			want: Topology{
				Name:   "lab-fleet",
				Source: "fleets/lab.yaml",
				Timing: Timing{Heartbeat: 500 * time.Millisecond, NodeMonitorGracePeriod: 2 * time.Second},
				CNI:    CNI{RuleProtocol: ProtoKernel, RouteTable: 2100},
				Regions: []Region{
					{Name: "us1", Cloud: AWS, Line: 9, Clusters: []Cluster{
						{Name: "us1-parent", Role: Parent, ControlPlanes: 1, Workers: 2, Line: 12},
						{Name: "us1-app1", Role: Child, Parent: "us1-parent", Workers: 3, Line: 16},
					}},
					{Name: "eu1", Cloud: GCP, Line: 20, Clusters: []Cluster{
						{Name: "eu1-parent", Role: Parent, ControlPlanes: 1, Workers: 1, Line: 23},
					}},
				},
			},
			wantNodes: []string{
				"us1-parent-cp0", "us1-parent-w0", "us1-parent-w1",
				"us1-app1-w0", "us1-app1-w1", "us1-app1-w2",
				"eu1-parent-cp0", "eu1-parent-w0",
			},
		},
		{
			name:   "defaults and name from file",
			source: "fleets/small-fleet.yaml",
			data: `regions:
  - name: eu1
    cloud: azure
    clusters:
      - {name: eu1-parent, role: parent, controlPlanes: 1, workers: 1}
      - {name: eu1-app1, role: child, parent: eu1-parent, workers: 1}
`,
			want: Topology{
				Name:   "small-fleet",
				Source: "fleets/small-fleet.yaml",
				Timing: Timing{Heartbeat: DefaultHeartbeat, NodeMonitorGracePeriod: DefaultNodeMonitorGracePeriod},
				CNI:    CNI{RuleProtocol: ProtoUnspec, RouteTable: DefaultRouteTable},
				Regions: []Region{
					{Name: "eu1", Cloud: Azure, Line: 2, Clusters: []Cluster{
						{Name: "eu1-parent", Role: Parent, ControlPlanes: 1, Workers: 1, Line: 5},
						{Name: "eu1-app1", Role: Child, Parent: "eu1-parent", Workers: 1, Line: 6},
					}},
				},
			},
			wantNodes: []string{"eu1-parent-cp0", "eu1-parent-w0", "eu1-app1-w0"},
		},
		{
			name:   "explicit nulls and aliases",
			source: "alias.yml",
			data: `timing: ~
cni:
regions:
  - name: us3
    cloud: azure
    clusters:
      - &p {name: us3-parent, role: parent, controlPlanes: 1, workers: 1}
`,
			want: Topology{
				Name:   "alias",
				Source: "alias.yml",
				Timing: Timing{Heartbeat: DefaultHeartbeat, NodeMonitorGracePeriod: DefaultNodeMonitorGracePeriod},
				CNI:    CNI{RuleProtocol: ProtoUnspec, RouteTable: DefaultRouteTable},
				Regions: []Region{
					{Name: "us3", Cloud: Azure, Line: 4, Clusters: []Cluster{
						{Name: "us3-parent", Role: Parent, ControlPlanes: 1, Workers: 1, Line: 7},
					}},
				},
			},
			wantNodes: []string{"us3-parent-cp0", "us3-parent-w0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.source, []byte(tt.data))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(withoutFieldLines(got), tt.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, tt.want)
			}
			var names []string
			for _, n := range got.Nodes() {
				names = append(names, n.Name)
			}
			if !reflect.DeepEqual(names, tt.wantNodes) {
				t.Errorf("Nodes() = %v, want %v", names, tt.wantNodes)
			}
		})
	}
}

func TestParseNodeDetails(t *testing.T) {
	top, err := Parse("lab.yaml", []byte(validFile))
	if err != nil {
		t.Fatal(err)
	}
	nodes := top.Nodes()
	tests := []struct {
		index int
		want  Node
	}{
		{0, Node{Name: "us1-parent-cp0", Region: "us1", Cloud: AWS, Cluster: "us1-parent", ClusterRole: Parent, Role: ControlPlane}},
		{2, Node{Name: "us1-parent-w1", Region: "us1", Cloud: AWS, Cluster: "us1-parent", ClusterRole: Parent, Role: Worker}},
		{5, Node{Name: "us1-app1-w2", Region: "us1", Cloud: AWS, Cluster: "us1-app1", ClusterRole: Child, Role: Worker}},
		{7, Node{Name: "eu1-parent-w0", Region: "eu1", Cloud: GCP, Cluster: "eu1-parent", ClusterRole: Parent, Role: Worker}},
	}
	for _, tt := range tests {
		t.Run(tt.want.Name, func(t *testing.T) {
			if got := nodes[tt.index]; got != tt.want {
				t.Errorf("Nodes()[%d] = %+v, want %+v", tt.index, got, tt.want)
			}
		})
	}
}

// oneRegion returns a topology file with region us1 declared at line 2 and
// the given clusters, one per line in flow style, from line 5 on.
func oneRegion(clusters ...string) string {
	var b strings.Builder
	b.WriteString("regions:\n  - name: us1\n    cloud: aws\n    clusters:\n")
	for _, c := range clusters {
		b.WriteString("      - " + c + "\n")
	}
	return b.String()
}

const (
	okParent = "{name: us1-parent, role: parent, controlPlanes: 1, workers: 1}"
	okChild  = "{name: us1-app1, role: child, parent: us1-parent, workers: 2}"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string // each a substring of the error, with its bad.yaml:line: prefix
	}{
		// Decoding.
		{"unknown top-level field", "nodes: 3\n" + oneRegion(okParent),
			[]string{`bad.yaml:1: unknown topology field "nodes" (known fields: name, timing, cni, regions)`}},
		{"unknown cluster field", oneRegion("{name: us1-parent, role: parent, controlPlanes: 1, wrokers: 1}"),
			[]string{`bad.yaml:5: unknown cluster field "wrokers"`}},
		{"unknown region field", "regions:\n  - name: us1\n    provider: aws\n",
			[]string{`bad.yaml:3: unknown region field "provider"`}},
		{"bad duration", "timing:\n  heartbeat: 1x\n" + oneRegion(okParent),
			[]string{`bad.yaml:2: timing.heartbeat: invalid duration "1x" (want a Go duration such as "1s" or "500ms")`}},
		{"duration without unit", "timing:\n  nodeMonitorGracePeriod: 4\n" + oneRegion(okParent),
			[]string{`bad.yaml:2: timing.nodeMonitorGracePeriod: invalid duration "4"`}},
		{"bad YAML syntax", "regions:\n\t- name: us1\n",
			[]string{`bad.yaml:2: invalid YAML: found character that cannot start any token`}},
		{"unclosed flow sequence", "name: x\nregions: [\n",
			[]string{`bad.yaml:2: invalid YAML: did not find expected node content`}},
		{"not an integer", oneRegion("{name: us1-parent, role: parent, controlPlanes: 1, workers: three}"),
			[]string{`bad.yaml:5: workers: want an integer, got "three"`}},
		{"quoted integer", oneRegion(`{name: us1-parent, role: parent, controlPlanes: "1", workers: 1}`),
			[]string{`bad.yaml:5: controlPlanes: want an integer, got the quoted string "1"`}},
		{"regions not a list", "regions: us1\n",
			[]string{`bad.yaml:1: regions: want a list, got "us1"`}},
		{"topology not a mapping", "- us1\n",
			[]string{`bad.yaml:1: topology: want a mapping, got a list`}},
		{"repeated field", "name: a\nname: b\n" + oneRegion(okParent),
			[]string{`bad.yaml:2: topology field "name" repeated (first set at line 1)`}},
		{"second document", oneRegion(okParent) + "---\nname: b\n",
			[]string{`bad.yaml:6: unexpected second YAML document`}},

		// Structure.
		{"empty file", "",
			[]string{`bad.yaml:1: topology has no regions`}},
		{"no regions", "name: x\nregions: []\n",
			[]string{`bad.yaml:2: topology has no regions`}},
		{"region without clusters", "regions:\n  - name: us1\n    cloud: aws\n",
			[]string{`bad.yaml:2: region us1 has no clusters`}},
		{"unknown cloud", strings.Replace(oneRegion(okParent), "aws", "aws2", 1),
			[]string{`bad.yaml:3: region us1: unknown cloud "aws2" (want aws, gcp or azure)`}},
		{"missing cloud", strings.Replace(oneRegion(okParent), "cloud: aws", "cloud: ", 1),
			[]string{`bad.yaml:3: region us1 has no cloud (want aws, gcp or azure)`}},
		{"region name uppercase", strings.Replace(oneRegion(okParent), "name: us1", "name: US1", 1),
			[]string{`bad.yaml:2: region name "US1" is not a lowercase DNS label`}},
		{"region name too long", strings.Replace(oneRegion(okParent), "name: us1", "name: us1-abcdefghij", 1),
			[]string{`bad.yaml:2: region name "us1-abcdefghij" is 14 characters long (want at most 12)`}},
		{"region name missing", strings.Replace(oneRegion(okParent), "name: us1", "name: ''", 1),
			[]string{`bad.yaml:2: region has no name`}},
		{"cluster name ends with dash", oneRegion("{name: us1-, role: parent, controlPlanes: 1}"),
			[]string{`bad.yaml:5: cluster name "us1-" is not a lowercase DNS label`}},
		{"cluster name starts with digit", oneRegion("{name: 1app, role: parent, controlPlanes: 1}"),
			[]string{`bad.yaml:5: cluster name "1app" is not a lowercase DNS label`}},
		{"cluster name with underscore", oneRegion("{name: us1_parent, role: parent, controlPlanes: 1}"),
			[]string{`bad.yaml:5: cluster name "us1_parent" is not a lowercase DNS label`}},
		{"cluster name too long", oneRegion("{name: us1-parent-abcdefghijklmn, role: parent, controlPlanes: 1}"),
			[]string{`bad.yaml:5: cluster name "us1-parent-abcdefghijklmn" is 25 characters long (want at most 24)`}},
		{"duplicate region", oneRegion(okParent) + "  - name: us1\n    cloud: gcp\n    clusters:\n      - {name: x-parent, role: parent, controlPlanes: 1}\n",
			[]string{`bad.yaml:6: duplicate region name "us1" (first declared at line 2)`}},
		{"duplicate cluster across regions", oneRegion(okParent) + "  - name: eu1\n    cloud: gcp\n    clusters:\n      - " + okParent + "\n",
			[]string{`bad.yaml:9: duplicate cluster name "us1-parent" (first declared at line 5)`}},
		{"duplicate cluster in region", oneRegion(okParent, okParent),
			[]string{`bad.yaml:6: duplicate cluster name "us1-parent" (first declared at line 5)`}},

		// Roles and parents.
		{"unknown role", oneRegion("{name: us1-parent, role: boss, controlPlanes: 1}"),
			[]string{`bad.yaml:5: cluster us1-parent has unknown role "boss" (want parent or child)`}},
		{"missing role", oneRegion("{name: us1-parent, controlPlanes: 1}"),
			[]string{`bad.yaml:5: cluster us1-parent has no role (want parent or child)`}},
		{"parent without control plane", oneRegion("{name: us1-parent, role: parent, workers: 2}"),
			[]string{`bad.yaml:5: parent cluster us1-parent has controlPlanes: 0 (want at least 1)`}},
		{"parent hosting children without workers", oneRegion("{name: us1-parent, role: parent, controlPlanes: 1}", okChild),
			[]string{`bad.yaml:5: parent cluster us1-parent has workers: 0 but hosts the control planes of us1-app1 (want at least 1 worker)`}},
		{"parent naming a parent", oneRegion("{name: us1-parent, role: parent, parent: x, controlPlanes: 1}"),
			[]string{`bad.yaml:5: parent cluster us1-parent names parent "x" (only child clusters have a parent)`}},
		{"child without parent", oneRegion(okParent, "{name: us1-app1, role: child, workers: 2}"),
			[]string{`bad.yaml:6: child cluster us1-app1 has no parent`}},
		{"child with unknown parent", oneRegion(okParent, "{name: us1-app1, role: child, parent: x, workers: 2}"),
			[]string{`bad.yaml:6: child cluster us1-app1 names parent "x" which is not a parent cluster in region us1 (want one of us1-parent)`}},
		{"child naming a child", oneRegion(okParent, okChild, "{name: us1-app2, role: child, parent: us1-app1, workers: 2}"),
			[]string{`bad.yaml:7: child cluster us1-app2 names parent "us1-app1" which is not a parent cluster in region us1`}},
		{"child naming a parent in another region",
			oneRegion(okParent, "{name: us1-app1, role: child, parent: eu1-parent, workers: 2}") +
				"  - name: eu1\n    cloud: gcp\n    clusters:\n      - {name: eu1-parent, role: parent, controlPlanes: 1, workers: 1}\n",
			[]string{`bad.yaml:6: child cluster us1-app1 names parent "eu1-parent" which is not a parent cluster in region us1`}},
		{"child with control plane", oneRegion(okParent, "{name: us1-app1, role: child, parent: us1-parent, controlPlanes: 1, workers: 2}"),
			[]string{`bad.yaml:6: child cluster us1-app1 has controlPlanes: 1 (want 0: its control plane runs on a worker of its parent)`}},
		{"child without workers", oneRegion(okParent, "{name: us1-app1, role: child, parent: us1-parent, controlPlanes: 1}"),
			[]string{
				`bad.yaml:6: child cluster us1-app1 has controlPlanes: 1`,
				`bad.yaml:6: child cluster us1-app1 has workers: 0 (want at least 1)`,
			}},

		// Counts.
		{"cluster without nodes", oneRegion(okParent, "{name: us1-app1, role: child, parent: us1-parent}"),
			[]string{`bad.yaml:6: cluster us1-app1 has no nodes`}},
		{"negative workers", oneRegion("{name: us1-parent, role: parent, controlPlanes: 1, workers: -1}"),
			[]string{`bad.yaml:5: cluster us1-parent has workers: -1 (must not be negative)`}},
		{"negative control planes", oneRegion("{name: us1-parent, role: parent, controlPlanes: -2, workers: 1}"),
			[]string{`bad.yaml:5: cluster us1-parent has controlPlanes: -2 (must not be negative)`}},
		{"too many nodes", oneRegion("{name: us1-parent, role: parent, controlPlanes: 1, workers: 2000}"),
			[]string{`bad.yaml:1: topology has 2001 nodes (want at most 2000)`}},

		// Timing and CNI.
		{"negative heartbeat", "timing:\n  heartbeat: -1s\n" + oneRegion(okParent),
			[]string{`bad.yaml:2: timing.heartbeat is -1s (want more than 0)`}},
		{"grace period not above heartbeat", "timing:\n  heartbeat: 5s\n" + oneRegion(okParent),
			[]string{`bad.yaml:2: timing.nodeMonitorGracePeriod 4s must be longer than timing.heartbeat 5s`}},
		{"grace period equal to heartbeat", "timing:\n  heartbeat: 2s\n  nodeMonitorGracePeriod: 2s\n" + oneRegion(okParent),
			[]string{`bad.yaml:3: timing.nodeMonitorGracePeriod 2s must be longer than timing.heartbeat 2s`}},
		{"unknown rule protocol", "cni:\n  ruleProtocol: ospf\n" + oneRegion(okParent),
			[]string{`bad.yaml:2: unknown cni.ruleProtocol "ospf" (want unspec, boot, static or kernel)`}},
		{"main route table", "cni:\n  routeTable: 254\n" + oneRegion(okParent),
			[]string{`bad.yaml:2: cni.routeTable 254 is reserved for the main table`}},
		{"local route table", "cni:\n  routeTable: 255\n" + oneRegion(okParent),
			[]string{`bad.yaml:2: cni.routeTable 255 is reserved for the local table`}},
		{"default route table", "cni:\n  routeTable: 253\n" + oneRegion(okParent),
			[]string{`bad.yaml:2: cni.routeTable 253 is reserved for the default table`}},
		{"negative route table", "cni:\n  routeTable: -4\n" + oneRegion(okParent),
			[]string{`bad.yaml:2: cni.routeTable -4 is out of range (want 1..2147483647)`}},
		{"route table too large", "cni:\n  routeTable: 2147483648\n" + oneRegion(okParent),
			[]string{`bad.yaml:2: cni.routeTable 2147483648 is out of range`}},

		// Every problem is reported, not just the first.
		{"several problems", "cni:\n  ruleProtocol: ospf\n" + oneRegion(
			"{name: us1-parent, role: parent, workers: 1}",
			"{name: us1-app1, role: child, workers: 1}"),
			[]string{
				`bad.yaml:2: unknown cni.ruleProtocol "ospf"`,
				`bad.yaml:7: parent cluster us1-parent has controlPlanes: 0`,
				`bad.yaml:8: child cluster us1-app1 has no parent`,
			}},
		{"several decoding problems", "nodes: 3\ntiming:\n  heartbeat: soon\n" + oneRegion(okParent),
			[]string{
				`bad.yaml:1: unknown topology field "nodes"`,
				`bad.yaml:3: timing.heartbeat: invalid duration "soon"`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("bad.yaml", []byte(tt.data))
			if err == nil {
				t.Fatalf("Parse succeeded, want errors %q\nresult: %+v", tt.want, got)
			}
			if !reflect.DeepEqual(got, Topology{}) {
				t.Errorf("Parse returned %+v with its error, want the zero Topology", got)
			}
			msg := err.Error()
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not contain %q:\n%s", want, msg)
				}
			}
			if n := len(problems(t, err)); n != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%s", n, len(tt.want), msg)
			}
		})
	}
}

// problems returns the *Error values joined in err, failing the test if err
// holds anything else.
func problems(t *testing.T, err error) []*Error {
	t.Helper()
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	var out []*Error
	for _, e := range errs {
		var pe *Error
		if !errors.As(e, &pe) {
			t.Fatalf("problem %q is a %T, want *Error", e, e)
		}
		out = append(out, pe)
	}
	return out
}

func TestParseErrorsWrap(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		wantLine int
	}{
		{"bad duration wraps time.ParseDuration", "timing:\n  heartbeat: 1x\n" + oneRegion(okParent), 2},
		{"bad syntax wraps the YAML error", "regions:\n\t- name: us1\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tt.data))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if pe.Source != "bad.yaml" || pe.Line != tt.wantLine {
				t.Errorf("located at %s:%d, want bad.yaml:%d", pe.Source, pe.Line, tt.wantLine)
			}
			if errors.Unwrap(pe) == nil {
				t.Errorf("%v wraps nothing, want the underlying error", pe)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "my-fleet.yaml")
	if err := os.WriteFile(good, []byte(strings.Replace(validFile, "name: lab-fleet\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("nodes: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		path     string
		wantName string
		wantErr  string
		wantIs   error
	}{
		{name: "valid file", path: good, wantName: "my-fleet"},
		{name: "invalid file", path: bad, wantErr: bad + `:1: unknown topology field "nodes"`},
		{name: "missing file", path: filepath.Join(dir, "nope.yaml"), wantErr: "nope.yaml", wantIs: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want it to contain %q", err, tt.wantErr)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("Load error %v is not %v", err, tt.wantIs)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got.Name != tt.wantName || got.Source != tt.path {
				t.Errorf("Load: name %q source %q, want %q and %q", got.Name, got.Source, tt.wantName, tt.path)
			}
			if n := len(got.Nodes()); n != 8 {
				t.Errorf("Load: %d nodes, want 8", n)
			}
		})
	}
}

// withoutFieldLines drops the per-field lines, which TestFieldLines checks.
func withoutFieldLines(t Topology) Topology {
	regions := make([]Region, len(t.Regions))
	for i, r := range t.Regions {
		r.FieldLines = nil
		clusters := make([]Cluster, len(r.Clusters))
		for j, c := range r.Clusters {
			c.FieldLines = nil
			clusters[j] = c
		}
		r.Clusters = clusters
		regions[i] = r
	}
	t.Regions = regions
	return t
}

func TestFieldLines(t *testing.T) {
	data := "regions:\n  - name: us1\n    cloud: aws\n    clusters:\n      - name: p\n        role: parent\n        controlPlanes: 1\n        workers: 1\n      - name: c\n        role: child\n        parent: p\n        workers: 2\n"
	topo, err := Parse("f.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	r := topo.Regions[0]
	tests := []struct {
		what      string
		got, want int
	}{
		{"region", r.Line, 2},
		{"cloud", r.LineOf("cloud"), 3},
		{"cluster c", r.Clusters[1].Line, 9},
		{"parent of c", r.Clusters[1].LineOf("parent"), 11},
		{"workers of c", r.Clusters[1].LineOf("workers"), 12},
		{"unset field falls back to the cluster", r.Clusters[1].LineOf("controlPlanes"), 9},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("line of %s = %d, want %d", tt.what, tt.got, tt.want)
		}
	}
}
