package terraform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// OutputName is the Terraform output that holds the inventory.
const OutputName = "aftershock_fleet"

// InventoryVersion is the version of the inventory contract this package reads.
const InventoryVersion = 1

// DefaultAftershockCommand runs aftershock on a node when the inventory does
// not say otherwise.
var DefaultAftershockCommand = []string{"aftershock"}

// DefaultNodeJournalDir is where node-side injections are journalled when the
// inventory does not say otherwise.
const DefaultNodeJournalDir = "/var/lib/aftershock"

// Inventory is a validated aftershock_fleet output: what the module built and
// how to act on it. docs/terraform.md documents every field.
type Inventory struct {
	Version int
	// Name names the fleet in reports; optional.
	Name string
	// GameDay is the module's own mark that its fleet may be disrupted.
	GameDay bool
	// MaxBlastRadius, if not 0, lowers the fleet's blast-radius cap.
	MaxBlastRadius float64
	// NodeJournalDir is where `aftershock inject` journals on a node.
	NodeJournalDir string
	// AftershockCommand is the argv prefix that runs aftershock on a node.
	AftershockCommand []string
	Regions           []Region
	Clusters          []Cluster
	// Nodes carry their resolved actions: a node's own, else the fleet's.
	Nodes []Node
}

// Region is a failure domain on one cloud.
type Region struct {
	Name  string
	Cloud topology.Cloud
}

// Cluster is one Kubernetes cluster of the fleet.
type Cluster struct {
	Name   string
	Region string
	Role   topology.ClusterRole
	// Parent is the parent cluster of a child cluster.
	Parent string
	// KubeconfigPath or Kubeconfig (content): exactly one is set.
	KubeconfigPath string
	Kubeconfig     string
	// Context is the kubeconfig context to use; empty means its current one.
	Context string
	// APINetNS, if set, is a network namespace on the machine running
	// aftershock from which the API server is dialled (the embedded lab's
	// fabric). Real clusters leave it empty.
	APINetNS string
}

// Node is one machine of the fleet.
type Node struct {
	// ID is the provider's identity (instance ID, self link); stable.
	ID      string
	Name    string
	Region  string
	Cluster string
	Role    topology.NodeRole
	Address string
	// Labels are the module's labels, with aftershock's own added.
	Labels map[string]string
	// NetNS, if set, is the node's network namespace as its exec channel sees
	// it; node-side faults are then pointed at it (--netns) instead of the
	// namespace of the process the exec channel starts (--self).
	NetNS   string
	Actions Actions
}

// Actions are argv templates. Placeholders {{id}}, {{name}}, {{address}},
// {{region}}, {{cluster}} and {{cloud}} are replaced by the node's values.
// Exec also takes {{command}} (the command to run, as one POSIX-shell-quoted
// string) or an element that is exactly {{argv}} (the command's arguments, as
// separate elements); with neither, the command's arguments are appended.
type Actions struct {
	Reboot    []string
	Terminate []string
	Exec      []string
}

// Node returns the named node.
func (inv *Inventory) Node(name string) (Node, bool) {
	for _, n := range inv.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// Cluster returns the named cluster.
func (inv *Inventory) Cluster(name string) (Cluster, bool) {
	for _, c := range inv.Clusters {
		if c.Name == name {
			return c, true
		}
	}
	return Cluster{}, false
}

// Topology is the fleet's shape: its regions and clusters, with each
// cluster's control-plane and worker counts taken from its nodes. Timings and
// CNI settings have their defaults. source names the module in messages.
func (inv *Inventory) Topology(source string) topology.Topology {
	t := topology.Topology{Name: inv.Name, Source: source}
	for _, r := range inv.Regions {
		region := topology.Region{Name: r.Name, Cloud: r.Cloud}
		for _, c := range inv.Clusters {
			if c.Region != r.Name {
				continue
			}
			cluster := topology.Cluster{Name: c.Name, Role: c.Role, Parent: c.Parent}
			for _, n := range inv.Nodes {
				switch {
				case n.Cluster != c.Name:
				case n.Role == topology.ControlPlane:
					cluster.ControlPlanes++
				default:
					cluster.Workers++
				}
			}
			region.Clusters = append(region.Clusters, cluster)
		}
		t.Regions = append(t.Regions, region)
	}
	return t.WithDefaults()
}

// ParseInventory decodes and validates the value of an aftershock_fleet
// output (JSON, as `terraform output -json` prints it). It reports every
// problem it finds, each an *InventoryError naming the field and the node,
// cluster or region it belongs to, joined with errors.Join; errors.Is(err,
// ErrInvalidInventory) holds for all of them.
func ParseInventory(value []byte) (*Inventory, error) {
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, &InventoryError{Msg: fmt.Sprintf("not JSON: %v", err)}
	}
	if dec.More() {
		return nil, &InventoryError{Msg: "more than one JSON value"}
	}
	r := &reader{}
	inv := r.inventory(doc)
	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}
	return inv, nil
}

// reader walks a decoded aftershock_fleet value and collects its problems.
type reader struct {
	errs []error
}

func (r *reader) errorf(path, format string, args ...any) {
	r.errs = append(r.errs, &InventoryError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// named labels the path of a list item with the item's name, if it has one:
// `nodes[3] "us1-w2"`.
func named(path string, item any) string {
	if m, ok := item.(map[string]any); ok {
		if name, ok := m["name"].(string); ok && name != "" {
			return fmt.Sprintf("%s %q", path, name)
		}
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// object checks that v is an object with every required key (not null) and
// no key outside required and optional; it returns the object, or nil.
func (r *reader) object(path string, v any, required, optional []string) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		r.errorf(path, "is %s, want an object", kind(v))
		return nil
	}
	var unknown []string
	for k := range m {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		r.errorf(join(path, k), "unknown field (want one of %s)", strings.Join(append(slices.Clone(required), optional...), ", "))
	}
	for _, k := range required {
		if m[k] == nil {
			r.errorf(join(path, k), "is missing")
		}
	}
	return m
}

func (r *reader) str(path string, v any) string {
	s, ok := v.(string)
	if !ok {
		r.errorf(path, "is %s, want a string", kind(v))
		return ""
	}
	return s
}

// optStr is the string at key, or "" if it is absent or null.
func (r *reader) optStr(m map[string]any, key, path string) string {
	if m == nil || m[key] == nil {
		return ""
	}
	return r.str(join(path, key), m[key])
}

func (r *reader) list(path string, v any) []any {
	l, ok := v.([]any)
	if !ok {
		r.errorf(path, "is %s, want a list", kind(v))
		return nil
	}
	return l
}

func (r *reader) strList(path string, v any) []string {
	l, ok := v.([]any)
	if !ok {
		r.errorf(path, "is %s, want a list of strings", kind(v))
		return nil
	}
	out := make([]string, len(l))
	for i, e := range l {
		out[i] = r.str(fmt.Sprintf("%s[%d]", path, i), e)
	}
	return out
}

func kind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", v)
	case json.Number:
		return "the number " + v.String()
	case bool:
		return fmt.Sprintf("the boolean %t", v)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func (r *reader) inventory(doc any) *Inventory {
	m := r.object("", doc,
		[]string{"version", "regions", "clusters", "nodes"},
		[]string{"name", "game_day", "max_blast_radius", "node_journal_dir", "aftershock_command", "actions"})
	if m == nil {
		return nil
	}
	inv := &Inventory{NodeJournalDir: DefaultNodeJournalDir, AftershockCommand: DefaultAftershockCommand}
	if v, ok := m["version"].(json.Number); ok {
		if v.String() != fmt.Sprint(InventoryVersion) {
			r.errorf("version", "is %s, want %d (the contract this aftershock reads)", v, InventoryVersion)
		}
		inv.Version = InventoryVersion
	} else if m["version"] != nil {
		r.errorf("version", "is %s, want the number %d", kind(m["version"]), InventoryVersion)
	}
	inv.Name = r.optStr(m, "name", "")
	switch v := m["game_day"].(type) {
	case nil:
	case bool:
		inv.GameDay = v
	default:
		r.errorf("game_day", "is %s, want true or false", kind(v))
	}
	switch v := m["max_blast_radius"].(type) {
	case nil:
	case json.Number:
		f, err := v.Float64()
		if err != nil || f <= 0 || f > 1 {
			r.errorf("max_blast_radius", "is %s, want a share of nodes above 0 and at most 1 (e.g. 0.34)", v)
		}
		inv.MaxBlastRadius = f
	default:
		r.errorf("max_blast_radius", "is %s, want a number", kind(v))
	}
	if m["node_journal_dir"] != nil {
		inv.NodeJournalDir = r.optStr(m, "node_journal_dir", "")
		if !filepath.IsAbs(inv.NodeJournalDir) {
			r.errorf("node_journal_dir", "%q is not an absolute path", inv.NodeJournalDir)
		}
	}
	if m["aftershock_command"] != nil {
		inv.AftershockCommand = r.strList("aftershock_command", m["aftershock_command"])
		if len(inv.AftershockCommand) == 0 || strings.TrimSpace(inv.AftershockCommand[0]) == "" {
			r.errorf("aftershock_command", "is empty, want the argv that runs aftershock on a node, e.g. [\"sudo\", \"aftershock\"]")
		}
	}
	defaults := r.actions("actions", m["actions"])

	regions := r.regions(m["regions"])
	inv.Regions = regions
	inv.Clusters = r.clusters(m["clusters"], regions)
	inv.Nodes = r.nodes(m["nodes"], inv, defaults)
	return inv
}

var clouds = []topology.Cloud{topology.AWS, topology.GCP, topology.Azure}

func (r *reader) regions(v any) []Region {
	if v == nil {
		return nil
	}
	items := r.list("regions", v)
	if items != nil && len(items) == 0 {
		r.errorf("regions", "is empty, want at least one region")
	}
	var out []Region
	seen := map[string]bool{}
	for i, item := range items {
		path := named(fmt.Sprintf("regions[%d]", i), item)
		m := r.object(path, item, []string{"name", "cloud"}, nil)
		if m == nil {
			continue
		}
		reg := Region{Name: r.optStr(m, "name", path), Cloud: topology.Cloud(r.optStr(m, "cloud", path))}
		if reg.Name != "" {
			r.dnsLabel(join(path, "name"), reg.Name)
			if seen[reg.Name] {
				r.errorf(join(path, "name"), "duplicate region name %q", reg.Name)
			}
			seen[reg.Name] = true
		}
		if m["cloud"] != nil && !slices.Contains(clouds, reg.Cloud) {
			r.errorf(join(path, "cloud"), "unknown cloud %q (want aws, gcp or azure)", reg.Cloud)
		}
		out = append(out, reg)
	}
	return out
}

func (r *reader) clusters(v any, regions []Region) []Cluster {
	if v == nil {
		return nil
	}
	items := r.list("clusters", v)
	if items != nil && len(items) == 0 {
		r.errorf("clusters", "is empty, want at least one cluster")
	}
	var out []Cluster
	paths := map[string]string{}
	for i, item := range items {
		path := named(fmt.Sprintf("clusters[%d]", i), item)
		m := r.object(path, item, []string{"name", "region", "role"},
			[]string{"parent", "kubeconfig_path", "kubeconfig", "context", "api_netns"})
		if m == nil {
			continue
		}
		c := Cluster{
			Name:           r.optStr(m, "name", path),
			Region:         r.optStr(m, "region", path),
			Role:           topology.ClusterRole(r.optStr(m, "role", path)),
			Parent:         r.optStr(m, "parent", path),
			KubeconfigPath: r.optStr(m, "kubeconfig_path", path),
			Kubeconfig:     r.optStr(m, "kubeconfig", path),
			Context:        r.optStr(m, "context", path),
			APINetNS:       r.optStr(m, "api_netns", path),
		}
		if c.Name != "" {
			r.dnsLabel(join(path, "name"), c.Name)
			if _, dup := paths[c.Name]; dup {
				r.errorf(join(path, "name"), "duplicate cluster name %q", c.Name)
			} else {
				paths[c.Name] = path
			}
		}
		if c.Region != "" && !slices.ContainsFunc(regions, func(reg Region) bool { return reg.Name == c.Region }) {
			r.errorf(join(path, "region"), "unknown region %q (want one of %s)", c.Region, regionNames(regions))
		}
		switch c.Role {
		case topology.Parent, topology.Child, "":
		default:
			r.errorf(join(path, "role"), "unknown role %q (want parent or child)", c.Role)
		}
		switch {
		case c.KubeconfigPath == "" && c.Kubeconfig == "":
			r.errorf(path, "has no kubeconfig: set kubeconfig_path (a file) or kubeconfig (its content)")
		case c.KubeconfigPath != "" && c.Kubeconfig != "":
			r.errorf(path, "sets both kubeconfig_path and kubeconfig; set one")
		}
		if c.APINetNS != "" && !filepath.IsAbs(c.APINetNS) {
			r.errorf(join(path, "api_netns"), "%q is not an absolute path", c.APINetNS)
		}
		out = append(out, c)
	}
	// Parents and children, once every cluster is known.
	for _, c := range out {
		path := paths[c.Name]
		if path == "" {
			continue
		}
		switch c.Role {
		case topology.Parent:
			if c.Parent != "" {
				r.errorf(join(path, "parent"), "is %q, but only child clusters have a parent", c.Parent)
			}
		case topology.Child:
			i := slices.IndexFunc(out, func(p Cluster) bool { return p.Name == c.Parent })
			switch {
			case c.Parent == "":
				r.errorf(join(path, "parent"), "is missing: a child cluster names the parent cluster that hosts its control plane")
			case i < 0:
				r.errorf(join(path, "parent"), "unknown cluster %q", c.Parent)
			case out[i].Role != topology.Parent:
				r.errorf(join(path, "parent"), "%q is not a parent cluster (its role is %q)", c.Parent, out[i].Role)
			case out[i].Region != c.Region:
				r.errorf(join(path, "parent"), "%q is in region %q, not in %q", c.Parent, out[i].Region, c.Region)
			}
		}
	}
	return out
}

func regionNames(regions []Region) string {
	var names []string
	for _, r := range regions {
		names = append(names, r.Name)
	}
	if len(names) == 0 {
		return "no region is declared"
	}
	return strings.Join(names, ", ")
}

func (r *reader) nodes(v any, inv *Inventory, defaults Actions) []Node {
	if v == nil {
		return nil
	}
	items := r.list("nodes", v)
	if items != nil && len(items) == 0 {
		r.errorf("nodes", "is empty, want at least one node")
	}
	var out []Node
	names, ids := map[string]bool{}, map[string]string{}
	perCluster := map[string]int{}
	for i, item := range items {
		path := named(fmt.Sprintf("nodes[%d]", i), item)
		m := r.object(path, item, []string{"id", "name", "region", "cluster", "role", "address"},
			[]string{"labels", "netns", "actions"})
		if m == nil {
			continue
		}
		n := Node{
			ID:      r.optStr(m, "id", path),
			Name:    r.optStr(m, "name", path),
			Region:  r.optStr(m, "region", path),
			Cluster: r.optStr(m, "cluster", path),
			Role:    topology.NodeRole(r.optStr(m, "role", path)),
			Address: r.optStr(m, "address", path),
			NetNS:   r.optStr(m, "netns", path),
		}
		if n.Name != "" {
			if errs := validation.IsDNS1123Subdomain(n.Name); len(errs) > 0 {
				r.errorf(join(path, "name"), "%q is not a Kubernetes node name: %s", n.Name, strings.Join(errs, "; "))
			}
			if names[n.Name] {
				r.errorf(join(path, "name"), "duplicate node name %q", n.Name)
			}
			names[n.Name] = true
		}
		if n.ID != "" {
			if other, dup := ids[n.ID]; dup {
				r.errorf(join(path, "id"), "duplicate node id %q (also %s)", n.ID, other)
			}
			ids[n.ID] = path
		}
		if _, isString := m["address"].(string); isString {
			if _, err := netip.ParseAddr(n.Address); err != nil {
				r.errorf(join(path, "address"), "%q is not an IP address", n.Address)
			}
		}
		switch n.Role {
		case topology.ControlPlane, topology.Worker, "":
		default:
			r.errorf(join(path, "role"), "unknown role %q (want control-plane or worker)", n.Role)
		}
		if n.NetNS != "" && !filepath.IsAbs(n.NetNS) {
			r.errorf(join(path, "netns"), "%q is not an absolute path", n.NetNS)
		}
		var cloud topology.Cloud
		if i := slices.IndexFunc(inv.Regions, func(reg Region) bool { return reg.Name == n.Region }); i >= 0 {
			cloud = inv.Regions[i].Cloud
		} else if n.Region != "" {
			r.errorf(join(path, "region"), "unknown region %q (want one of %s)", n.Region, regionNames(inv.Regions))
		}
		var clusterRole topology.ClusterRole
		if c, ok := inv.Cluster(n.Cluster); ok {
			clusterRole = c.Role
			perCluster[c.Name]++
			if n.Region != "" && c.Region != n.Region {
				r.errorf(join(path, "region"), "is %q, but its cluster %q is in region %q", n.Region, c.Name, c.Region)
			}
		} else if n.Cluster != "" {
			var known []string
			for _, c := range inv.Clusters {
				known = append(known, c.Name)
			}
			r.errorf(join(path, "cluster"), "unknown cluster %q (want one of %s)", n.Cluster, strings.Join(known, ", "))
		}
		n.Labels = r.labels(join(path, "labels"), m["labels"], topology.Node{
			Name: n.Name, Region: n.Region, Cloud: cloud, Cluster: n.Cluster, ClusterRole: clusterRole, Role: n.Role,
		})
		own := r.actions(join(path, "actions"), m["actions"])
		n.Actions = mergeActions(own, defaults)
		for _, a := range []struct {
			name string
			argv []string
		}{{"reboot", n.Actions.Reboot}, {"terminate", n.Actions.Terminate}, {"exec", n.Actions.Exec}} {
			if a.argv == nil {
				r.errorf(join(path, "actions."+a.name), "is missing: declare it on the node or in the fleet's actions")
			}
		}
		out = append(out, n)
	}
	for _, c := range inv.Clusters {
		if c.Name != "" && items != nil && perCluster[c.Name] == 0 {
			r.errorf(fmt.Sprintf("clusters %q", c.Name), "has no nodes (every cluster needs at least one node in nodes)")
		}
	}
	return out
}

func mergeActions(own, defaults Actions) Actions {
	pick := func(a, b []string) []string {
		if a != nil {
			return a
		}
		return b
	}
	return Actions{
		Reboot:    pick(own.Reboot, defaults.Reboot),
		Terminate: pick(own.Terminate, defaults.Terminate),
		Exec:      pick(own.Exec, defaults.Exec),
	}
}

// labels validates a node's labels and adds aftershock's own; a declared
// aftershock.io/* label must agree with the node's fields.
func (r *reader) labels(path string, v any, n topology.Node) map[string]string {
	out := map[string]string{}
	if v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			r.errorf(path, "is %s, want an object of strings", kind(v))
		}
		for k, val := range m {
			s := r.str(join(path, k), val)
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				r.errorf(path, "key %q is not a Kubernetes label key: %s", k, strings.Join(errs, "; "))
			}
			if errs := validation.IsValidLabelValue(s); len(errs) > 0 {
				r.errorf(join(path, k), "%q is not a Kubernetes label value: %s", s, strings.Join(errs, "; "))
			}
			out[k] = s
		}
	}
	for k, want := range infra.NodeLabels(n) {
		got, declared := out[k]
		switch {
		case !declared:
			out[k] = want
		case strings.HasPrefix(k, "aftershock.io/") && got != want:
			r.errorf(join(path, k), "is %q, but the node's fields say %q", got, want)
		}
	}
	return out
}

// placeholders every action may use, and those only exec may use.
var (
	nodePlaceholders = []string{"id", "name", "address", "region", "cluster", "cloud"}
	execPlaceholders = []string{"command", "argv"}
)

func (r *reader) actions(path string, v any) Actions {
	if v == nil {
		return Actions{}
	}
	m := r.object(path, v, nil, []string{"reboot", "terminate", "exec"})
	if m == nil {
		return Actions{}
	}
	get := func(name string) []string {
		if m[name] == nil {
			return nil
		}
		p := join(path, name)
		argv := r.strList(p, m[name])
		if argv == nil {
			return nil
		}
		if len(argv) == 0 || strings.TrimSpace(argv[0]) == "" {
			r.errorf(p, "has no program: want an argv such as [\"aws\", \"ec2\", \"reboot-instances\", ...]")
			return argv
		}
		allowed := nodePlaceholders
		if name == "exec" {
			allowed = append(slices.Clone(nodePlaceholders), execPlaceholders...)
		}
		commands := 0
		for i, arg := range argv {
			for _, ph := range placeholdersIn(arg) {
				switch {
				case !slices.Contains(allowed, ph):
					r.errorf(fmt.Sprintf("%s[%d]", p, i), "unknown placeholder {{%s}} (want one of %s)", ph, braces(allowed))
				case ph == "argv" && arg != "{{argv}}":
					r.errorf(fmt.Sprintf("%s[%d]", p, i), "{{argv}} must be a whole element: it expands to several")
				case ph == "argv" || ph == "command":
					commands++
				}
			}
		}
		if commands > 1 {
			r.errorf(p, "uses {{command}} or {{argv}} %d times; use one", commands)
		}
		return argv
	}
	return Actions{Reboot: get("reboot"), Terminate: get("terminate"), Exec: get("exec")}
}

func braces(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "{{" + n + "}}"
	}
	return strings.Join(out, ", ")
}

// placeholdersIn lists the {{name}} placeholders of s.
func placeholdersIn(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return out
		}
		out = append(out, strings.TrimSpace(s[i+2:i+j]))
		s = s[i+j+2:]
	}
}

func (r *reader) dnsLabel(path, s string) {
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		r.errorf(path, "%q is not a lowercase DNS label: %s", s, strings.Join(errs, "; "))
	}
}
