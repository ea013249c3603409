package fault

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments/journal"
)

// fanoutNodesEnv overrides the benchmark's node count (default 60).
const fanoutNodesEnv = "AFTERSHOCK_FANOUT_NODES"

// The benchmark's nodes carry Cilium's three IPv4 rules (priorities 20, 100
// and 111) over a moved local rule, and the fault deletes exactly those.
var (
	benchNodeSetup = []string{
		"link set lo up",
		"link add eth0 type veth peer name peer0",
		"link set eth0 up",
		"addr add 10.9.0.10/32 dev eth0",
		"route add 10.9.0.0/16 dev eth0 scope link table 2004",
		"route add default via 10.9.0.1 dev eth0 onlink table 2004",
		"rule add pref 100 lookup local",
		"rule del pref 0",
	}
	benchCiliumRules = []string{
		"rule add pref 20 to 10.9.0.10/32 lookup main",
		"rule add pref 111 from 10.9.0.10/32 lookup 2004",
	}
	benchForeign = []string{"20", "100", "111"}
)

// BenchmarkNetworkdRestartFanout measures InjectAll of networkd-restart on
// many nodes (width 32, journalled as in a real run: every node's snapshot
// fsynced before its rules go) against the shell-script way of doing the same:
// `ip -n NODE rule del pref P` for each foreign rule, nodes in parallel with
// the same width.
func BenchmarkNetworkdRestartFanout(b *testing.B) {
	requireRoot(b)
	nodes := 300
	if s := os.Getenv(fanoutNodesEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive number of nodes", fanoutNodesEnv, s)
		}
		nodes = n
	}
	const width = 32
	ctx := context.Background()
	hit := nodes * 60 / 100 // networkd restarts on 60% of the fleet

	names := make([]string, nodes)
	for i := range names {
		names[i] = fmt.Sprintf("%sb%d", nsPrefix, nsCounter.Add(1))
	}
	b.Cleanup(func() {
		parallel(names, width, func(ns string) error { return exec.Command("ip", "netns", "delete", ns).Run() })
	})
	start := time.Now()
	err := parallel(names, width, func(ns string) error {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			return fmt.Errorf("ip netns add %s: %w: %s", ns, err, out)
		}
		return batch(ns, append(append([]string(nil), benchNodeSetup...), benchCiliumRules...))
	})
	if err != nil {
		b.Fatal(err)
	}
	setup := time.Since(start)

	j, err := journal.Open(filepath.Join(b.TempDir(), "journal.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	cfg := DefaultNetworkdConfig()
	cfg.ManageForeignRoutes = false // the baseline deletes rules only

	var injectTotal, injectNoJournalTotal, baselineTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, journalled := range []bool{true, false} {
			faults := make([]Fault, hit)
			for k, ns := range names[:hit] {
				f := NewNetworkdRestart(ns, nsPath(ns), cfg, nil, "")
				if journalled {
					f.Journal, f.ID = j, fmt.Sprintf("bench/%s/networkd-restart/%d", ns, i)
				}
				faults[k] = f
			}
			start := time.Now() // the timer runs for the journalled InjectAll only

			if err := InjectAll(ctx, faults, width); err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			b.StopTimer()
			if journalled {
				injectTotal += took
			} else {
				injectNoJournalTotal += took
			}
			for _, f := range faults {
				if s, _ := f.(*NetworkdRestart).Snapshot(); len(s.Rules) != len(benchForeign) {
					b.Fatalf("%s: snapshot of %d rules, want %d", f.Target(), len(s.Rules), len(benchForeign))
				}
			}
			if out := run(b, "ip", "-n", names[hit-1], "rule", "show"); strings.Contains(out, "lookup 2004") {
				b.Fatalf("rules left after InjectAll:\n%s", out)
			}
			if err := RevertAll(ctx, faults, width); err != nil {
				b.Fatal(err)
			}
		}

		start := time.Now()
		err := parallel(names[:hit], width, func(ns string) error {
			for _, pref := range benchForeign {
				if out, err := exec.Command("ip", "-n", ns, "rule", "del", "pref", pref).CombinedOutput(); err != nil {
					return fmt.Errorf("ip -n %s rule del pref %s: %w: %s", ns, pref, err, out)
				}
			}
			return nil
		})
		baselineTotal += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if err := parallel(names[:hit], width, func(ns string) error {
			return batch(ns, append([]string{"rule add pref 100 lookup local"}, benchCiliumRules...))
		}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()

	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	ratio := float64(baselineTotal) / float64(injectTotal)
	b.ReportMetric(per(injectTotal), "inject-ms")
	b.ReportMetric(per(injectNoJournalTotal), "inject-nojournal-ms")
	b.ReportMetric(per(baselineTotal), "iproute2-ms")
	b.ReportMetric(ratio, "x-faster-than-iproute2")
	fmt.Printf("networkd-restart on 60%% of %d nodes (%d), width %d: InjectAll %.1f ms (journalled; %.1f ms without), iproute2 `ip rule del` %.1f ms: %.1fx faster (target >= 20x; setup of the nodes took %v)\n",
		nodes, hit, width, per(injectTotal), per(injectNoJournalTotal), per(baselineTotal), ratio, setup.Round(time.Millisecond))
}

// parallel runs do for every name, width at a time, and returns the errors.
func parallel(names []string, width int, do func(string) error) error {
	sem := make(chan struct{}, width)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	for _, name := range names {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := do(name); err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d failed: %s", len(errs), strings.Join(errs, "; "))
	}
	return nil
}

func batch(ns string, lines []string) error {
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip -n %s -batch: %w: %s", ns, err, out)
	}
	return nil
}
