package topology

import (
	"strings"
	"testing"
	"time"
)

// tiny returns the tiny preset for tests to break.
func tiny(t *testing.T) Topology {
	t.Helper()
	top, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Topology)
		want   []string // substrings; presets have no lines
	}{
		{"valid preset", func(*Topology) {}, nil},
		{"zero timing and CNI mean defaults", func(top *Topology) {
			top.Timing, top.CNI = Timing{}, CNI{}
		}, nil},
		{"no regions", func(top *Topology) { top.Regions = nil },
			[]string{"preset:tiny: topology has no regions"}},
		{"unknown cloud", func(top *Topology) { top.Regions[0].Cloud = "aws2" },
			[]string{`preset:tiny: region eu1: unknown cloud "aws2" (want aws, gcp or azure)`}},
		{"duplicate region without lines", func(top *Topology) {
			r := top.Regions[0]
			r.Clusters = []Cluster{{Name: "other", Role: Parent, ControlPlanes: 1}}
			top.Regions = append(top.Regions, r)
		}, []string{`preset:tiny: duplicate region name "eu1"`}},
		{"duplicate cluster without lines", func(top *Topology) {
			top.Regions[0].Clusters[1].Name = "eu1-parent"
		}, []string{`preset:tiny: duplicate cluster name "eu1-parent"`}},
		{"unnamed cluster", func(top *Topology) { top.Regions[0].Clusters[1].Name = "" },
			[]string{"preset:tiny: cluster has no name"}},
		{"unnamed region", func(top *Topology) { top.Regions[0].Name = "" },
			[]string{"preset:tiny: region has no name"}},
		{"too many nodes", func(top *Topology) { top.Regions[0].Clusters[1].Workers = 1999 },
			[]string{"preset:tiny: topology has 2001 nodes (want at most 2000)"}},
		{"negative heartbeat", func(top *Topology) { top.Timing.Heartbeat = -time.Second },
			[]string{"preset:tiny: timing.heartbeat is -1s (want more than 0)"}},
		{"no source", func(top *Topology) {
			top.Source = ""
			top.Regions[0].Clusters[0].Role = "boss"
		}, []string{
			`topology tiny: cluster eu1-parent has unknown role "boss"`,
			`topology tiny: child cluster eu1-app1 names parent "eu1-parent" which is not a parent cluster in region eu1 (the region has no parent cluster)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := tiny(t)
			tt.modify(&top)
			err := top.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate succeeded, want %q", tt.want)
			}
			msg := err.Error()
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not contain %q:\n%s", want, msg)
				}
			}
			ps := problems(t, err)
			if len(ps) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(ps), len(tt.want), msg)
			}
			for _, p := range ps {
				if p.Line != 0 || strings.Contains(p.Error(), ":0:") {
					t.Errorf("problem %q has a line, want none", p)
				}
			}
		})
	}
}

func TestIsDNSLabel(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"us1", true},
		{"a", true},
		{"us1-app10", true},
		{"a--b", true},
		{"", false},
		{"1us", false},
		{"-us", false},
		{"us-", false},
		{"US1", false},
		{"us_1", false},
		{"us.1", false},
		{"ünï", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isDNSLabel(tt.name); got != tt.want {
				t.Errorf("isDNSLabel(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{Source: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3: bad"},
		{Error{Source: "preset:tiny", Msg: "bad"}, "preset:tiny: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
