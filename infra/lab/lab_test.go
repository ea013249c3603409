package lab

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/lab/internal/namespace"
	"github.com/aftershock-sre/aftershock/infra/service"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// requireLab skips where the lab truly cannot run (not root), and fails where
// it should run but its components are missing: CI installs them (make deps).
func requireLab(t testing.TB) Binaries {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the lab needs root to create network namespaces; CI runs this as root")
	}
	bins, err := FindBinaries()
	if err != nil {
		t.Fatalf("lab components missing (run make deps): %v", err)
	}
	return bins
}

func testOptions(t testing.TB, bins Binaries) Options {
	return Options{
		Binaries:       bins,
		AgentCommand:   []string{binaries.Agent},
		ServiceCommand: []string{binaries.Service},
		StateRoot:      t.TempDir(),
		ProcessEnv:     strings.Fields(os.Getenv("LAB_TEST_ENV")),
	}
}

// TestLab brings the tiny preset up once and walks it through the lab's
// promises: Ready nodes, a rule flush that Kubernetes notices, a reboot that
// heals, a parent worker whose loss takes a child control plane with it,
// termination, and a teardown that leaves the host exactly as it was.
func TestLab(t *testing.T) {
	bins := requireLab(t)
	hostBefore := hostNetwork(t)
	topo, err := topology.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	start := time.Now()
	l, err := Up(ctx, topo, testOptions(t, bins))
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Logf("lab %s up with every node Ready in %s", l.RunID(), time.Since(start).Round(time.Millisecond))
	downed := false
	defer func() {
		if !downed {
			_ = l.Down(context.Background())
		}
	}()
	grace := l.Topology().Timing.NodeMonitorGracePeriod

	t.Run("every node is Ready in its cluster's API server, with its labels", func(t *testing.T) {
		for _, n := range l.Nodes() {
			client, err := l.client(n.Cluster)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get node %s from %s: %v", n.Name, n.Cluster, err)
			}
			if got := readyOf(obj.Status.Conditions); got != "True" {
				t.Errorf("%s Ready=%q", n.Name, got)
			}
			for k, v := range infra.NodeLabels(n.Node) {
				if obj.Labels[k] != v {
					t.Errorf("%s label %s=%q, want %q", n.Name, k, obj.Labels[k], v)
				}
			}
			if v, err := client.Discovery().ServerVersion(); err != nil || v.GitVersion != KubeVersion {
				t.Errorf("%s API server version %v (%v), want %s", n.Cluster, v, err, KubeVersion)
			}
		}
	})

	t.Run("flushing a node's foreign rules makes it NotReady within the grace period", func(t *testing.T) {
		node := mustNode(t, l, "eu1-app1-w1")
		flushed := flushForeignRules(t, node)
		if flushed != 3 {
			t.Errorf("flushed %d rules, want the CNI's 3", flushed)
		}
		took := waitReadyState(t, ctx, l, node, "Unknown", grace+10*time.Second)
		t.Logf("%s NotReady %s after the flush (grace period %s)", node.Name, took.Round(time.Millisecond), grace)
		if took < grace/2 {
			t.Errorf("NotReady after %s: sooner than the grace period %s allows", took, grace)
		}

		t.Run("a reboot brings it back", func(t *testing.T) {
			if err := l.Reboot(ctx, node.Name); err != nil {
				t.Fatal(err)
			}
			took := waitReadyState(t, ctx, l, node, "True", 30*time.Second)
			t.Logf("%s Ready %s after the reboot", node.Name, took.Round(time.Millisecond))
			if n := countCNIRules(t, node); n != 3 {
				t.Errorf("after reboot %s has %d CNI rules, want 3", node.Name, n)
			}
		})
	})

	t.Run("a child cluster whose parent worker is cut off loses its control plane", func(t *testing.T) {
		child, err := l.state.cluster("eu1-app1")
		if err != nil {
			t.Fatal(err)
		}
		host := mustNode(t, l, child.HostNode)
		flushForeignRules(t, host)
		deadline := time.Now().Add(10 * time.Second)
		for l.probeReadyz(ctx, child.Name) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("child API server on %s still answers 10s after the cut", host.Name)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := l.probeReadyz(ctx, "eu1-parent"); err != nil {
			t.Errorf("the parent control plane went down with its worker: %v", err)
		}

		t.Run("rebooting the parent worker brings the child control plane and its nodes back", func(t *testing.T) {
			if err := l.Reboot(ctx, host.Name); err != nil {
				t.Fatal(err)
			}
			if err := l.WaitReady(ctx); err != nil {
				t.Fatal(err)
			}
		})
	})

	t.Run("a service runs in node namespaces and comes back after a reboot", func(t *testing.T) {
		endpoints, err := l.StartService(ctx, infra.ServiceSpec{Name: "metrics-intake", Kind: "sharded", Clusters: []string{"eu1-app1"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(endpoints) != 2 {
			t.Fatalf("endpoints %v, want one shard on each of eu1-app1's 2 nodes", endpoints)
		}
		client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: l.ProbeDialer(), DisableKeepAlives: true}}
		node := mustNode(t, l, endpoints[0].Node)
		flushForeignRules(t, node)
		if err := service.Query(ctx, client, "http://"+endpoints[0].Address+"/query"); err == nil {
			t.Errorf("the shard on %s answers although its node's rules are flushed", node.Name)
		}
		if err := service.Query(ctx, client, "http://"+endpoints[1].Address+"/query"); err != nil {
			t.Errorf("the shard on the untouched node fails: %v", err)
		}
		if err := l.Reboot(ctx, node.Name); err != nil {
			t.Fatal(err)
		}
		if err := infra.WaitServing(ctx, l.ProbeDialer(), endpoints, 10*time.Second); err != nil {
			t.Errorf("after the reboot: %v", err)
		}
	})

	t.Run("terminate kills the node and deletes its namespace", func(t *testing.T) {
		node := mustNode(t, l, "eu1-app1-w0")
		if err := l.Terminate(ctx, node.Name); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(node.NetNSPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s still exists: %v", node.NetNSPath, err)
		}
		for _, n := range l.Nodes() {
			if n.Name == node.Name {
				t.Errorf("terminated node %s still listed", n.Name)
			}
		}
		if err := l.Reboot(ctx, node.Name); err == nil {
			t.Error("rebooting a terminated node succeeded")
		}
	})

	dir := l.Dir()
	if err := l.Down(context.Background()); err != nil {
		t.Fatalf("lab down: %v", err)
	}
	downed = true
	if err := l.Down(context.Background()); err != nil {
		t.Errorf("second lab down is not idempotent: %v", err)
	}

	t.Run("teardown leaves no namespace, process or folder behind", func(t *testing.T) {
		if left, _ := namespace.List(NamespacePrefix + l.RunID() + "-"); len(left) > 0 {
			t.Errorf("namespaces left: %v", left)
		}
		if pids := processesMentioning(t, dir); len(pids) > 0 {
			t.Errorf("processes left: %v", pids)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("lab folder %s left: %v", dir, err)
		}
	})

	t.Run("the host's rules, routes and links are unchanged", func(t *testing.T) {
		after := hostNetwork(t)
		for what, before := range hostBefore {
			if after[what] != before {
				t.Errorf("host %s changed:\nbefore:\n%s\nafter:\n%s", what, before, after[what])
			}
		}
	})
}

func TestUpRejectsBadTopologyAndCreatesNothing(t *testing.T) {
	bins := requireLab(t)
	topo, err := topology.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	topo.Regions[0].Cloud = "aws2"
	opts := testOptions(t, bins)
	opts.RunID = "badtopo"
	_, err = Up(context.Background(), topo, opts)
	if err == nil || !strings.Contains(err.Error(), `unknown cloud "aws2"`) {
		t.Fatalf("Up with an unknown cloud: %v", err)
	}
	if left, _ := namespace.List(NamespacePrefix + "badtopo-"); len(left) > 0 {
		t.Errorf("namespaces created for a rejected topology: %v", left)
	}
	if _, err := os.Stat(filepath.Join(opts.StateRoot, "badtopo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lab folder created for a rejected topology: %v", err)
	}
}

func mustNode(t *testing.T, l *Lab, name string) *nodeState {
	t.Helper()
	n, err := l.state.node(name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// rulesOf lists the node's IPv4 rules through a netlink handle in its
// namespace; the caller closes the handle.
func rulesOf(t *testing.T, n *nodeState) (*namespace.Handle, []netlink.Rule) {
	t.Helper()
	h, err := namespace.Open(n.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := h.RuleList(netlink.FAMILY_V4)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	return h, rules
}

// flushForeignRules deletes, through netlink in the node's namespace, every
// rule whose protocol is not "kernel", as systemd-networkd does on restart.
func flushForeignRules(t *testing.T, n *nodeState) int {
	t.Helper()
	h, rules := rulesOf(t, n)
	defer h.Close()
	flushed := 0
	for _, r := range rules {
		if r.Protocol == unix.RTPROT_KERNEL {
			continue
		}
		if err := h.RuleDel(&r); err != nil {
			t.Fatalf("delete rule %s in %s: %v", r, n.Namespace, err)
		}
		flushed++
	}
	return flushed
}

func countCNIRules(t *testing.T, n *nodeState) int {
	t.Helper()
	h, rules := rulesOf(t, n)
	defer h.Close()
	count := 0
	for _, r := range rules {
		if r.Priority == cniLocalPriority || r.Priority == cniToPriority || r.Priority == cniFromPriority {
			count++
		}
	}
	return count
}

// waitReadyState polls the node's Ready condition in its cluster until it
// has the wanted status, and returns how long that took.
func waitReadyState(t *testing.T, ctx context.Context, l *Lab, n *nodeState, want string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ready, err := l.readiness(ctx, n.Cluster)
		if err == nil && ready[n.Name] == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s Ready=%q (err %v), still not %q after %s", n.Name, ready[n.Name], err, want, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readyOf(conds []corev1.NodeCondition) string { return conditionOf(conds, "Ready") }

func conditionOf(conds []corev1.NodeCondition, typ corev1.NodeConditionType) string {
	for _, c := range conds {
		if c.Type == typ {
			return string(c.Status)
		}
	}
	return ""
}

// hostNetwork captures the host namespace's rules, routes, links and
// addresses as iproute2 prints them.
func hostNetwork(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for what, args := range map[string][]string{
		"IPv4 rules": {"-4", "rule", "show"}, "IPv6 rules": {"-6", "rule", "show"},
		"IPv4 routes": {"-4", "route", "show", "table", "all"}, "IPv6 routes": {"-6", "route", "show", "table", "all"},
		"links": {"-o", "link", "show"}, "addresses": {"-o", "addr", "show"},
	} {
		b, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, b)
		}
		out[what] = withoutDocker(string(b))
	}
	return out
}

// dockerLink matches the links the Docker engine manages in the host's
// namespace (its bridges and the host ends of container veths): they come
// and go with other tests' kind clusters, never with the lab.
var dockerLink = regexp.MustCompile(`(^\d+: |dev )(docker\d*|br-[0-9a-f]{12}|veth[0-9a-f]{7})[:@ ]`)

// withoutDocker drops the lines (one per link, address or route) about
// Docker's links.
func withoutDocker(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if !dockerLink.MatchString(line) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// processesMentioning lists pids whose command line contains s.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), s) {
			pids = append(pids, filepath.Base(filepath.Dir(p)))
		}
	}
	return pids
}
