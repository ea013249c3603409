package kind_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/infra/kind"
	"github.com/aftershock-sre/aftershock/infra/kind/kindtest"
	"github.com/aftershock-sre/aftershock/infra/lab"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// BenchmarkUp measures the time to a Ready kind fleet, and the same for the
// embedded lab when it can run here, for the "tiny" preset (a parent cluster
// and a child cluster whose control plane its worker relays) and for the CI
// fleet of examples/kind/ci-fleet.yaml (two regions, four clusters). Metrics:
// s/ready (whole fleet), s/cluster (mean per kind cluster), s/lab-ready and
// kind/lab. It skips without root, a Docker engine or the node image. Run it
// with -benchtime=1x: every iteration creates and deletes real clusters.
func BenchmarkUp(b *testing.B) {
	image := kindtest.Require(b)
	tiny, err := topology.Preset("tiny")
	if err != nil {
		b.Fatal(err)
	}
	ci, err := topology.Load("../../examples/kind/ci-fleet.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, topo := range []topology.Topology{tiny, ci} {
		b.Run(topo.Name, func(b *testing.B) { benchmarkUp(b, image, topo) })
	}
}

func benchmarkUp(b *testing.B, image string, topo topology.Topology) {
	ctx := context.Background()
	var kindTotal, perCluster time.Duration
	for i := range b.N {
		runID := fmt.Sprintf("b%d%d", time.Now().Unix()%10000, i)
		var clusterStart time.Time
		var clusterTimes []time.Duration
		start := time.Now()
		f, err := kind.Up(ctx, topo, kind.Options{RunID: runID, NodeImage: image, StateRoot: b.TempDir(),
			Progress: func(p kind.Progress) {
				if p.Phase != "create" {
					return
				}
				if !clusterStart.IsZero() {
					clusterTimes = append(clusterTimes, time.Since(clusterStart))
				}
				clusterStart = time.Now()
			}})
		elapsed := time.Since(start)
		if err != nil {
			_ = kind.Teardown(ctx, runID, "")
			b.Fatal(err)
		}
		kindTotal += elapsed
		for _, d := range clusterTimes {
			perCluster += d / time.Duration(len(clusterTimes))
		}
		if err := f.Down(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(kindTotal.Seconds()/float64(b.N), "s/ready")
	b.ReportMetric(perCluster.Seconds()/float64(b.N), "s/cluster")

	bins, err := lab.FindBinaries()
	if err != nil || lab.Preflight() != nil {
		b.Logf("lab not measured (kind/lab ratio omitted): %v", err)
		return
	}
	agent := os.Getenv("AFTERSHOCK_AGENT")
	if agent == "" {
		if agent, err = lab.FindAgent(); err != nil {
			b.Logf("lab not measured (kind/lab ratio omitted): %v", err)
			return
		}
	}
	start := time.Now()
	l, err := lab.Up(ctx, topo, lab.Options{Binaries: bins, AgentCommand: []string{agent}})
	labTime := time.Since(start)
	if err != nil {
		b.Logf("lab not measured: %v", err)
		return
	}
	if err := l.Down(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(labTime.Seconds(), "s/lab-ready")
	b.ReportMetric(kindTotal.Seconds()/float64(b.N)/labTime.Seconds(), "kind/lab")
}
