package topology

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Limits checked by Validate.
const (
	// MaxRegionNameLen is the longest allowed region name.
	MaxRegionNameLen = 12
	// MaxClusterNameLen is the longest allowed cluster name.
	MaxClusterNameLen = 24
	// MaxNodes is the largest fleet the lab runs.
	MaxNodes = 2000
)

// Validate reports every problem of t, joined with errors.Join; each problem
// is an *Error formatted "source:line: what is wrong" (without the line when
// it is unknown, as for presets). Zero timings and CNI settings mean their
// defaults, as in WithDefaults.
func (t Topology) Validate() error {
	return t.validate(positions{})
}

// validator collects the problems of one topology.
type validator struct {
	source string
	errs   []error
}

func (v *validator) errorf(line int, format string, args ...any) {
	v.errs = append(v.errs, &Error{Source: v.source, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// validate is Validate with the lines of topology-level settings, which Parse
// knows and the Topology type does not record.
func (t Topology) validate(pos positions) error {
	t = t.WithDefaults()
	v := &validator{source: t.Source}
	if v.source == "" {
		v.source = strings.TrimSpace("topology " + t.Name)
	}
	v.timing(t.Timing, pos)
	v.cni(t.CNI, pos)
	v.regions(t, firstLine(pos.regions, pos.root))
	return errors.Join(v.errs...)
}

func (v *validator) timing(tm Timing, pos positions) {
	if tm.Heartbeat <= 0 {
		v.errorf(firstLine(pos.heartbeat, pos.timing), "timing.heartbeat is %s (want more than 0)", tm.Heartbeat)
	}
	if tm.NodeMonitorGracePeriod <= tm.Heartbeat {
		v.errorf(firstLine(pos.grace, pos.heartbeat, pos.timing),
			"timing.nodeMonitorGracePeriod %s must be longer than timing.heartbeat %s",
			tm.NodeMonitorGracePeriod, tm.Heartbeat)
	}
}

func (v *validator) cni(c CNI, pos positions) {
	switch c.RuleProtocol {
	case ProtoUnspec, ProtoBoot, ProtoStatic, ProtoKernel:
	default:
		v.errorf(firstLine(pos.ruleProtocol, pos.cni),
			"unknown cni.ruleProtocol %q (want unspec, boot, static or kernel)", c.RuleProtocol)
	}
	line := firstLine(pos.table, pos.cni)
	switch {
	case c.RouteTable < 1 || c.RouteTable > math.MaxInt32:
		v.errorf(line, "cni.routeTable %d is out of range (want 1..%d)", c.RouteTable, math.MaxInt32)
	case c.RouteTable == 253 || c.RouteTable == 254 || c.RouteTable == 255:
		v.errorf(line, "cni.routeTable %d is reserved for the %s table (want 1..%d, except 253, 254 and 255)",
			c.RouteTable, reservedTable(c.RouteTable), math.MaxInt32)
	}
}

func reservedTable(id int) string {
	switch id {
	case 253:
		return "default"
	case 254:
		return "main"
	default:
		return "local"
	}
}

func (v *validator) regions(t Topology, line int) {
	if len(t.Regions) == 0 {
		v.errorf(line, "topology has no regions (want at least one)")
		return
	}
	regionLines := make(map[string]int)
	clusterLines := make(map[string]int)
	nodes := 0
	for _, r := range t.Regions {
		v.region(r, regionLines)
		for _, c := range r.Clusters {
			if first, dup := clusterLines[c.Name]; dup && c.Name != "" {
				v.errorf(c.LineOf("name"), "duplicate cluster name %q%s", c.Name, alsoAt(first))
			} else {
				clusterLines[c.Name] = c.LineOf("name")
			}
			// Counts and sum are capped, so that huge counts cannot
			// wrap around to a sum below MaxNodes.
			nodes = min(nodes+min(max(c.ControlPlanes, 0), math.MaxInt32)+min(max(c.Workers, 0), math.MaxInt32), math.MaxInt32)
		}
	}
	switch {
	case nodes == math.MaxInt32:
		v.errorf(line, "topology has %d nodes or more (want at most %d)", nodes, MaxNodes)
	case nodes > MaxNodes:
		v.errorf(line, "topology has %d nodes (want at most %d)", nodes, MaxNodes)
	}
}

func (v *validator) region(r Region, seen map[string]int) {
	v.name(r.LineOf("name"), "region", r.Name, MaxRegionNameLen)
	if first, dup := seen[r.Name]; dup && r.Name != "" {
		v.errorf(r.LineOf("name"), "duplicate region name %q%s", r.Name, alsoAt(first))
	} else {
		seen[r.Name] = r.LineOf("name")
	}
	switch r.Cloud {
	case AWS, GCP, Azure:
	case "":
		v.errorf(r.LineOf("cloud"), "region %s has no cloud (want aws, gcp or azure)", label(r.Name))
	default:
		v.errorf(r.LineOf("cloud"), "region %s: unknown cloud %q (want aws, gcp or azure)", label(r.Name), r.Cloud)
	}
	if len(r.Clusters) == 0 {
		v.errorf(r.Line, "region %s has no clusters (want at least one)", label(r.Name))
		return
	}

	// Which clusters of the region are parents, and which children each hosts.
	parents := make(map[string]bool)
	hosted := make(map[string][]string)
	for _, c := range r.Clusters {
		if c.Role == Parent {
			parents[c.Name] = true
		}
	}
	for _, c := range r.Clusters {
		if c.Role == Child && parents[c.Parent] {
			hosted[c.Parent] = append(hosted[c.Parent], c.Name)
		}
	}
	for _, c := range r.Clusters {
		v.cluster(r, c, parents, hosted[c.Name])
	}
}

func (v *validator) cluster(r Region, c Cluster, parents map[string]bool, children []string) {
	v.name(c.LineOf("name"), "cluster", c.Name, MaxClusterNameLen)
	name, region := label(c.Name), label(r.Name)
	switch c.Role {
	case Parent:
		if c.Parent != "" {
			v.errorf(c.LineOf("parent"), "parent cluster %s names parent %q (only child clusters have a parent)", name, c.Parent)
		}
	case Child:
		switch {
		case c.Parent == "":
			v.errorf(c.LineOf("parent"), "child cluster %s has no parent (want the name of a parent cluster in region %s)", name, region)
		case !parents[c.Parent]:
			v.errorf(c.LineOf("parent"), "child cluster %s names parent %q which is not a parent cluster in region %s%s",
				name, c.Parent, region, parentList(parents))
		}
	case "":
		v.errorf(c.LineOf("role"), "cluster %s has no role (want parent or child)", name)
	default:
		v.errorf(c.LineOf("role"), "cluster %s has unknown role %q (want parent or child)", name, c.Role)
	}

	negative := false
	if c.ControlPlanes < 0 {
		v.errorf(c.LineOf("controlPlanes"), "cluster %s has controlPlanes: %d (must not be negative)", name, c.ControlPlanes)
		negative = true
	}
	if c.Workers < 0 {
		v.errorf(c.LineOf("workers"), "cluster %s has workers: %d (must not be negative)", name, c.Workers)
		negative = true
	}
	switch {
	case negative:
	case c.ControlPlanes+c.Workers == 0:
		v.errorf(c.Line, "cluster %s has no nodes (a parent needs at least 1 control plane, a child at least 1 worker)", name)
	case c.Role == Parent:
		if c.ControlPlanes < 1 {
			v.errorf(c.LineOf("controlPlanes"), "parent cluster %s has controlPlanes: 0 (want at least 1)", name)
		}
		if len(children) > 0 && c.Workers < 1 {
			v.errorf(c.LineOf("workers"), "parent cluster %s has workers: 0 but hosts the control planes of %s (want at least 1 worker)",
				name, strings.Join(children, ", "))
		}
	case c.Role == Child:
		if c.ControlPlanes != 0 {
			v.errorf(c.LineOf("controlPlanes"), "child cluster %s has controlPlanes: %d (want 0: its control plane runs on a worker of its parent)",
				name, c.ControlPlanes)
		}
		if c.Workers < 1 {
			v.errorf(c.LineOf("workers"), "child cluster %s has workers: 0 (want at least 1)", name)
		}
	}
}

// name checks that s is a lowercase DNS label of at most maxLen characters.
func (v *validator) name(line int, what, s string, maxLen int) {
	switch {
	case s == "":
		v.errorf(line, "%s has no name", what)
	case !isDNSLabel(s):
		v.errorf(line, "%s name %q is not a lowercase DNS label (want a-z, 0-9 and '-', starting with a letter, not ending with '-')", what, s)
	case len(s) > maxLen:
		v.errorf(line, "%s name %q is %d characters long (want at most %d)", what, s, len(s), maxLen)
	}
}

// isDNSLabel reports whether s has only a-z, 0-9 and '-', starts with a
// letter and does not end with '-'.
func isDNSLabel(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// alsoAt names the line of the first declaration, when it is known.
func alsoAt(line int) string {
	if line == 0 {
		return ""
	}
	return fmt.Sprintf(" (first declared at line %d)", line)
}

// parentList names the parent clusters a child may pick, for messages.
func parentList(parents map[string]bool) string {
	if len(parents) == 0 {
		return " (the region has no parent cluster)"
	}
	var names []string
	for name := range parents {
		if name != "" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	return " (want one of " + strings.Join(names, ", ") + ")"
}

// label is a name for messages; unnamed regions and clusters still get one.
func label(name string) string {
	if name == "" {
		return "<unnamed>"
	}
	return name
}

// firstLine returns the first non-zero line, or 0.
func firstLine(lines ...int) int {
	for _, l := range lines {
		if l != 0 {
			return l
		}
	}
	return 0
}
