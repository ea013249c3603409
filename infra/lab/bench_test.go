package lab

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/infra/lab/internal/namespace"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// BenchmarkLabThreeRegions brings the three-regions preset (48 nodes, 9
// clusters) up and down, and prints the figures issue 2 asks for: time to all
// Ready, time to tear down, the lab's memory, the cost of a node and of a
// cluster, and the largest lab that fits in 24 GiB.
func BenchmarkLabThreeRegions(b *testing.B) {
	benchmarkLab(b, "three-regions")
}

// BenchmarkLabLarge proves the capacity claim with a real 300-node lab:
// three regions, each a parent (1 control plane, 3 workers) and 3 child
// clusters of 32 nodes: 300 nodes, 12 clusters.
func BenchmarkLabLarge(b *testing.B) {
	topo := topology.Uniform("large-300", []topology.RegionShape{
		{Name: "us1", Cloud: topology.AWS}, {Name: "eu1", Cloud: topology.GCP}, {Name: "us3", Cloud: topology.Azure},
	}, topology.ClusterShape{ParentControlPlanes: 1, ParentWorkers: 3, Children: 3, ChildWorkers: 32})
	// Two cores cannot absorb 600 heartbeat writes a second (300 nodes at
	// 1 s); at 2 s the fleet holds steady.
	topo.Timing.Heartbeat = 2 * time.Second
	topo.Timing.NodeMonitorGracePeriod = 10 * time.Second
	benchmarkTopology(b, topo)
}

func benchmarkLab(b *testing.B, preset string) {
	topo, err := topology.Preset(preset)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkTopology(b, topo)
}

func benchmarkTopology(b *testing.B, topo topology.Topology) {
	bins := requireLab(b)
	preset := topo.Name
	for range b.N {
		ctx := context.Background()
		start := time.Now()
		l, err := Up(ctx, topo, testOptions(b, bins))
		if err != nil {
			b.Fatal(err)
		}
		ready := time.Since(start)
		time.Sleep(3 * time.Second) // let start-up garbage settle
		mem := measure(b, l, 5*time.Second)
		start = time.Now()
		if err := l.Down(ctx); err != nil {
			b.Fatal(err)
		}
		down := time.Since(start)

		nodes, clusters := len(topo.Nodes()), len(topo.Clusters())
		b.ReportMetric(ready.Seconds(), "s-to-ready")
		b.ReportMetric(down.Seconds(), "s-to-teardown")
		b.ReportMetric(float64(mem.rss())/(1<<20), "MiB-rss")
		report(preset, preset == "three-regions", nodes, clusters, ready, down, mem)
	}
}

// usage is what the lab's processes used, by kind.
type usage struct {
	rssKiB, pssKiB map[string]int64 // by kind: agent, etcd, kube-apiserver, kube-controller-manager
	count          map[string]int
	cpuSeconds     float64            // over the sampling window
	cpuByKind      map[string]float64 // seconds over the window
	window         time.Duration
}

func (u usage) rss() int64 {
	var t int64
	for _, v := range u.rssKiB {
		t += v
	}
	return t * 1024
}

func (u usage) pss() int64 {
	var t int64
	for _, v := range u.pssKiB {
		t += v
	}
	return t * 1024
}

func measure(b *testing.B, l *Lab, window time.Duration) usage {
	u := usage{rssKiB: map[string]int64{}, pssKiB: map[string]int64{}, count: map[string]int{}, cpuByKind: map[string]float64{}, window: window}
	pids := labPids(b, l)
	cpu0 := map[int]int64{}
	start := time.Now()
	for _, pid := range pids {
		cpu0[pid] = cpuTicks(pid)
	}
	mid0 := start.Add(time.Since(start) / 2)
	time.Sleep(window)
	start = time.Now()
	defer func() { u.window = start.Add(time.Since(start) / 2).Sub(mid0) }()
	for _, pid := range pids {
		kind := processKind(pid)
		used := float64(cpuTicks(pid)-cpu0[pid]) / 100 // USER_HZ
		u.cpuSeconds += used
		u.cpuByKind[kind] += used
		rss, pss := memoryKiB(pid)
		u.rssKiB[kind] += rss
		u.pssKiB[kind] += pss
		u.count[kind]++
	}
	return u
}

func labPids(b *testing.B, l *Lab) []int {
	names, err := namespace.List(NamespacePrefix + l.RunID() + "-")
	if err != nil {
		b.Fatal(err)
	}
	var pids []int
	for _, n := range names {
		p, err := namespace.Processes(namespace.Path(n))
		if err != nil {
			b.Fatal(err)
		}
		pids = append(pids, p...)
	}
	return pids
}

func processKind(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "gone"
	}
	name := filepath.Base(strings.Split(string(b), "\x00")[0])
	if name == AgentBinary {
		return "agent"
	}
	return name
}

// memoryKiB reads a process's resident and proportional set sizes. PSS
// splits shared pages (the same binary mapped by 48 agents) fairly, so the
// PSS total is what the machine really spends.
func memoryKiB(pid int) (rss, pss int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "Rss:":
			rss = v
		case "Pss:":
			pss = v
		}
	}
	return rss, pss
}

// cpuTicks is the process's user and system time, in clock ticks.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command: utime is the 12th, stime the 13th.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return utime + stime
}

// report prints the figures; targets adds the targets as ratios (they
// are set for the three-region lab).
func report(preset string, targets bool, nodes, clusters int, ready, down time.Duration, u usage) {
	mib := func(kib int64) float64 { return float64(kib) / 1024 }
	perNode := mib(u.pssKiB["agent"]) / float64(nodes)
	perCluster := mib(u.pssKiB["etcd"]+u.pssKiB["kube-apiserver"]+u.pssKiB["kube-controller-manager"]) / float64(clusters)
	const budgetMiB = 22 * 1024 // 24 GiB less 2 GiB for the host and the runner
	fits := func(nodesPerCluster float64) (int, int) {
		c := budgetMiB / (perCluster + perNode*nodesPerCluster)
		return int(c * nodesPerCluster), int(c)
	}
	fmt.Printf("\n== lab %s: %d nodes, %d clusters ==\n", preset, nodes, clusters)
	if targets {
		fmt.Printf("time to all Ready   %6.1f s   (target <= 20 s: %.2fx of target)\n", ready.Seconds(), ready.Seconds()/20)
		fmt.Printf("time to tear down   %6.1f s   (target <= 5 s: %.2fx of target)\n", down.Seconds(), down.Seconds()/5)
		fmt.Printf("memory, RSS total   %6.0f MiB (target <= 4096 MiB: %.2fx of target)\n", float64(u.rss())/(1<<20), float64(u.rss())/(4<<30))
	} else {
		fmt.Printf("time to all Ready   %6.1f s\n", ready.Seconds())
		fmt.Printf("time to tear down   %6.1f s\n", down.Seconds())
		fmt.Printf("memory, RSS total   %6.0f MiB\n", float64(u.rss())/(1<<20))
	}
	fmt.Printf("memory, PSS total   %6.0f MiB (shared pages counted once)\n", float64(u.pss())/(1<<20))
	for _, k := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "agent"} {
		if u.count[k] > 0 {
			fmt.Printf("  %-24s x%-3d PSS %5.0f MiB (%5.1f each), RSS %5.0f MiB (%5.1f each)\n", k, u.count[k],
				mib(u.pssKiB[k]), mib(u.pssKiB[k])/float64(u.count[k]), mib(u.rssKiB[k]), mib(u.rssKiB[k])/float64(u.count[k]))
			fmt.Printf("  %-24s      CPU %5.2f cores\n", "", u.cpuByKind[k]/u.window.Seconds())
		}
	}
	fmt.Printf("steady-state CPU    %6.2f cores (over %s, 2 cores here)\n", u.cpuSeconds/u.window.Seconds(), u.window)
	fmt.Printf("cost per node       %6.1f MiB PSS (agent)\n", perNode)
	fmt.Printf("cost per cluster    %6.1f MiB PSS (etcd + kube-apiserver + kube-controller-manager)\n", perCluster)
	for _, npc := range slices.Compact([]float64{5, 10, 25, float64(nodes) / float64(clusters)}) {
		n, c := fits(npc)
		fmt.Printf("largest lab in 24 GiB at %4.1f nodes/cluster: %5d nodes in %3d clusters (memory only)\n", npc, n, c)
	}
}
