package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a topology, located at Source:Line. Line is 0 when
// the position is unknown (presets, topologies built in code); the message
// then names only the source.
type Error struct {
	Source string
	Line   int
	// Msg says what is wrong.
	Msg string
	// Err is the underlying error, if any (YAML syntax, duration syntax).
	Err error
}

// Error formats the problem as "source:line: msg", or "source: msg" when the
// line is unknown.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Source, e.Line, e.Msg)
	}
	return e.Source + ": " + e.Msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Load reads the topology file at path and parses it with Parse, using path
// as the source in messages.
func Load(path string) (Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Topology{}, fmt.Errorf("load topology: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a topology YAML document. source names the input in error
// messages and is stored in Topology.Source; a missing or empty name field
// defaults to the base name of source without its extension. The result has its defaults
// applied and is validated: the error joins every problem found, each as an
// *Error located at source:line.
func Parse(source string, data []byte) (Topology, error) {
	d := &decoder{source: source}
	t := d.document(data)
	if len(d.errs) > 0 {
		return Topology{}, errors.Join(d.errs...)
	}
	t.Source = source
	if t.Name == "" {
		t.Name = strings.TrimSuffix(filepath.Base(source), filepath.Ext(source))
	}
	t = t.WithDefaults()
	if err := t.validate(d.pos); err != nil {
		return Topology{}, err
	}
	return t, nil
}

// decoder walks the YAML node tree, collecting every problem with its line.
type decoder struct {
	source string
	pos    positions
	errs   []error
	// regions and clusters count what was decoded: YAML aliases can repeat
	// a list many times over in a few bytes, so decoding stops at the
	// most a valid topology can have (every cluster has a node).
	regions, clusters int
}

// tooMany counts one more item of what (regions or clusters) in *n, and
// reports, once, when there are more than MaxNodes.
func (d *decoder) tooMany(n *int, what string, line int) bool {
	*n++
	if *n == MaxNodes+1 {
		d.errorf(line, nil, "more than %d %s (a topology has at most %d nodes, and each of its %s has one)", MaxNodes, what, MaxNodes, what)
	}
	return *n > MaxNodes
}

// positions holds the lines of topology-level settings, so that validation
// can point at them. Zero means unknown.
type positions struct {
	root, regions            int
	timing, heartbeat, grace int
	cni, ruleProtocol, table int
}

func (d *decoder) errorf(line int, err error, format string, args ...any) {
	d.errs = append(d.errs, &Error{Source: d.source, Line: line, Msg: fmt.Sprintf(format, args...), Err: err})
}

// document parses data and decodes its single YAML document.
func (d *decoder) document(data []byte) Topology {
	d.pos.root = 1 // where an empty document would start
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) { // an empty file is an empty topology
			d.syntaxError(err)
		}
		return Topology{}
	}
	var t Topology
	if len(doc.Content) > 0 {
		t = d.topology(doc.Content[0])
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(extra.Line, nil, "unexpected second YAML document (want exactly one)")
	} else if !errors.Is(err, io.EOF) {
		d.syntaxError(err)
	}
	return t
}

// syntaxError reports a YAML parser error, moving yaml.v3's "line N" into the
// location prefix. yaml.v3 sometimes reports the line where the enclosing
// block starts rather than the offending one.
func (d *decoder) syntaxError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, convErr := strconv.Atoi(num); convErr == nil {
				line, msg = n, tail
			}
		}
	}
	d.errorf(line, err, "invalid YAML: %s", msg)
}

func (d *decoder) topology(n *yaml.Node) Topology {
	var t Topology
	n = resolve(n)
	d.pos.root = max(n.Line, 1)
	d.mapping(n, "topology", []string{"name", "timing", "cni", "regions"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			t.Name = d.str(v, "name")
		case "timing":
			d.pos.timing = k.Line
			t.Timing = d.timing(v)
		case "cni":
			d.pos.cni = k.Line
			t.CNI = d.cni(v)
		case "regions":
			d.pos.regions = k.Line
			d.sequence(v, "regions", func(item *yaml.Node) bool {
				if d.tooMany(&d.regions, "regions", resolve(item).Line) {
					return false
				}
				t.Regions = append(t.Regions, d.region(item))
				return true
			})
		}
	})
	return t
}

func (d *decoder) timing(n *yaml.Node) Timing {
	var tm Timing
	d.mapping(n, "timing", []string{"heartbeat", "nodeMonitorGracePeriod"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "heartbeat":
			d.pos.heartbeat = k.Line
			tm.Heartbeat = d.duration(v, "timing.heartbeat")
		case "nodeMonitorGracePeriod":
			d.pos.grace = k.Line
			tm.NodeMonitorGracePeriod = d.duration(v, "timing.nodeMonitorGracePeriod")
		}
	})
	return tm
}

func (d *decoder) cni(n *yaml.Node) CNI {
	var c CNI
	d.mapping(n, "cni", []string{"ruleProtocol", "routeTable"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "ruleProtocol":
			d.pos.ruleProtocol = k.Line
			c.RuleProtocol = RuleProtocol(d.str(v, "cni.ruleProtocol"))
		case "routeTable":
			d.pos.table = k.Line
			c.RouteTable = d.integer(v, "cni.routeTable")
		}
	})
	return c
}

func (d *decoder) region(n *yaml.Node) Region {
	n = resolve(n)
	r := Region{Line: n.Line, FieldLines: map[string]int{}}
	d.mapping(n, "region", []string{"name", "cloud", "clusters"}, func(key string, k, v *yaml.Node) {
		r.FieldLines[key] = k.Line
		switch key {
		case "name":
			r.Name = d.str(v, "region name")
		case "cloud":
			r.Cloud = Cloud(d.str(v, "cloud"))
		case "clusters":
			d.sequence(v, "clusters", func(item *yaml.Node) bool {
				if d.tooMany(&d.clusters, "clusters", resolve(item).Line) {
					return false
				}
				r.Clusters = append(r.Clusters, d.cluster(item))
				return true
			})
		}
	})
	return r
}

func (d *decoder) cluster(n *yaml.Node) Cluster {
	n = resolve(n)
	c := Cluster{Line: n.Line, FieldLines: map[string]int{}}
	known := []string{"name", "role", "parent", "controlPlanes", "workers"}
	d.mapping(n, "cluster", known, func(key string, k, v *yaml.Node) {
		c.FieldLines[key] = k.Line
		switch key {
		case "name":
			c.Name = d.str(v, "cluster name")
		case "role":
			c.Role = ClusterRole(d.str(v, "role"))
		case "parent":
			c.Parent = d.str(v, "parent")
		case "controlPlanes":
			c.ControlPlanes = d.integer(v, "controlPlanes")
		case "workers":
			c.Workers = d.integer(v, "workers")
		}
	})
	return c
}

// mapping calls fn for every key of the mapping n, in document order.
// Unknown and repeated keys are reported. A null value is an empty mapping.
func (d *decoder) mapping(n *yaml.Node, what string, known []string, fn func(key string, k, v *yaml.Node)) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, nil, "%s: want a mapping, got %s", what, describe(n))
		return
	}
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, nil, "%s: want a field name, got %s", what, describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, nil, "%s field %q repeated (first set at line %d)", what, k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		if !slices.Contains(known, k.Value) {
			d.errorf(k.Line, nil, "unknown %s field %q (known fields: %s)", what, k.Value, strings.Join(known, ", "))
			continue
		}
		fn(k.Value, k, v)
	}
}

// sequence calls fn for every item of the sequence n, until fn returns
// false. A null value is an empty sequence.
func (d *decoder) sequence(n *yaml.Node, what string, fn func(item *yaml.Node) bool) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n.Line, nil, "%s: want a list, got %s", what, describe(n))
		return
	}
	for _, item := range n.Content {
		if !fn(item) {
			return
		}
	}
}

func (d *decoder) str(n *yaml.Node, what string) string {
	n = resolve(n)
	if isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, nil, "%s: want a string, got %s", what, describe(n))
		return ""
	}
	return n.Value
}

func (d *decoder) integer(n *yaml.Node, what string) int {
	n = resolve(n)
	if isNull(n) {
		return 0
	}
	var v int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		d.errorf(n.Line, nil, "%s: want an integer, got %s", what, describe(n))
		return 0
	}
	return v
}

func (d *decoder) duration(n *yaml.Node, what string) time.Duration {
	n = resolve(n)
	if isNull(n) {
		return 0
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, nil, "%s: want a duration, got %s", what, describe(n))
		return 0
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errorf(n.Line, err, "%s: invalid duration %q (want a Go duration such as \"1s\" or \"500ms\")", what, n.Value)
		return 0
	}
	return v
}

// resolve follows aliases to the node they point at.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names the kind of n for messages: a mapping, a list, or the
// scalar's value.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return "the quoted string " + strconv.Quote(n.Value)
		}
		return strconv.Quote(n.Value)
	default:
		return "unexpected YAML content"
	}
}
