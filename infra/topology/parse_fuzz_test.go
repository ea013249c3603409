package topology

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that no topology file makes Parse panic, that every
// problem it reports is an *Error naming the file, and that whatever it
// accepts is a valid topology whose nodes can be listed. Seeds are in
// testdata/fuzz/FuzzParse; run it with
//
//	go test ./infra/topology -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		validFile,
		"",
		"regions: []\n",
		"regions:\n  - name: us1\n    cloud: aws\n    clusters:\n      - {name: us1-parent, role: parent, controlPlanes: 1, workers: 1}\n      - {name: us1-app1, role: child, parent: us1-parent, workers: 2}\n",
		"regions:\n  - name: us1\n    cloud: aws\n    clusters:\n      - {name: p, role: parent, controlPlanes: 9223372036854775807, workers: 1}\n",
		"regions:\n  - name: us1\n    cloud: aws\n    clusters:\n      - {name: p, role: parent, controlPlanes: 4611686018427387904, workers: 4611686018427387904}\n",
		"regions:\n  - &r {name: us1, cloud: aws, clusters: &c [{name: p, role: parent, controlPlanes: 1}]}\n  - *r\n",
		"x: &c {name: p, role: parent, controlPlanes: 1}\nregions: [{name: a, cloud: gcp, clusters: [*c, *c, *c]}]\n",
		"timing: {heartbeat: 1s, nodeMonitorGracePeriod: 500ms}\nregions: []\n",
		"timing: {heartbeat: -1s}\n",
		"cni: {ruleProtocol: kernel, routeTable: 254}\n",
		"cni: {routeTable: 99999999999999999999}\n",
		"regions:\n  - name: us1\n  - name: us1\n",
		"regions: {a: b}\n",
		"regions:\n- [1, 2]\n",
		"---\nregions: []\n---\nregions: []\n",
		"regions: *nope\n",
		"&a [*a]\n",
		"name: x\nname: y\n",
		"regions:\n  - name: us1\n\tcloud: aws\n",
		"? [a]\n: b\n",
		"!!binary aGVsbG8=\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const source = "fuzz.yaml"
		topo, err := Parse(source, data)
		if err != nil {
			for _, e := range unjoin(err) {
				var te *Error
				if !errors.As(e, &te) {
					t.Fatalf("problem %q is not an *Error", e)
				}
				if te.Source != source || te.Line < 0 || !strings.HasPrefix(e.Error(), source) {
					t.Fatalf("problem %q does not name %s (line %d)", e, source, te.Line)
				}
			}
			return
		}
		if err := topo.Validate(); err != nil {
			t.Fatalf("Parse accepted a topology that does not validate: %v", err)
		}
		nodes := topo.Nodes()
		if len(nodes) == 0 || len(nodes) > MaxNodes {
			t.Fatalf("Parse accepted %d nodes (want 1 to %d)", len(nodes), MaxNodes)
		}
		seen := map[string]bool{}
		for _, n := range nodes {
			if seen[n.Name] {
				t.Fatalf("Parse accepted two nodes named %s", n.Name)
			}
			seen[n.Name] = true
		}
	})
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// A few kilobytes of YAML aliases can name millions of clusters: Parse stops
// at the most a valid topology can hold, fast and with a clear error.
func TestParseAliasExpansionIsBounded(t *testing.T) {
	const n = 3000
	var b strings.Builder
	b.WriteString("x:\n  c: &c {name: a, role: parent, controlPlanes: 1}\n  cl: &cl [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("*c,", n), ","))
	b.WriteString("]\n  r: &r {name: us1, cloud: aws, clusters: *cl}\nregions: [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("*r,", n), ","))
	b.WriteString("]\n")
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(b.String()))
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("bomb.yaml:2: more than %d clusters", MaxNodes)) {
		t.Fatalf("Parse = %.300v, want a too-many-clusters error at line 2", err)
	}
	if n := len(unjoin(err)); n > 2*MaxNodes+10 {
		t.Errorf("Parse reported %d problems: it kept decoding past the limit", n)
	}
	t.Logf("%d bytes naming %d clusters refused in %s", b.Len(), n*n, took)
}

// Counts so large that their sum wraps around are refused, not accepted as
// a small fleet (Nodes would then panic).
func TestParseHugeCountsDoNotWrap(t *testing.T) {
	for _, counts := range [][2]string{
		{"9223372036854775807", "1"},
		{"4611686018427387904", "4611686018427387904"},
		{"9223372036854775807", "9223372036854775807"},
	} {
		yaml := fmt.Sprintf("regions:\n  - name: us1\n    cloud: aws\n    clusters:\n      - {name: p, role: parent, controlPlanes: %s, workers: %s}\n", counts[0], counts[1])
		_, err := Parse("huge.yaml", []byte(yaml))
		if err == nil || !strings.Contains(err.Error(), "huge.yaml:1: topology has") {
			t.Errorf("controlPlanes %s, workers %s: Parse = %v, want a too-many-nodes error", counts[0], counts[1], err)
		}
	}
}
