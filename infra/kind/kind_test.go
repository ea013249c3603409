package kind_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/cloud"
	"github.com/aftershock-sre/aftershock/infra/kind"
	"github.com/aftershock-sre/aftershock/infra/kind/kindtest"
	"github.com/aftershock-sre/aftershock/infra/lab/labtest"
	"github.com/aftershock-sre/aftershock/infra/service"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// TestKindFleet creates a parent cluster and a child cluster whose control
// plane the parent's worker relays, and checks the fleet the way the
// experiments use it: identity and labels, the node's namespace through its
// container's PID, policy routing, a networkd-style flush that really cuts
// the node and the child control plane it hosts, reboot, and teardown.
func TestKindFleet(t *testing.T) {
	image := kindtest.Require(t)
	topo := topology.Uniform("kind-test", []topology.RegionShape{{Name: "eu1", Cloud: topology.GCP}},
		topology.ClusterShape{ParentControlPlanes: 1, ParentWorkers: 1, Children: 1, ChildWorkers: 1})
	runID := fmt.Sprintf("t%d", time.Now().Unix()%100000)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var bins labtest.Binaries
	binDir, err := labtest.Build(&bins)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(binDir)
	var logOut strings.Builder
	start := time.Now()
	f, err := kind.Up(ctx, topo, kind.Options{
		RunID:         runID,
		NodeImage:     image,
		StateRoot:     t.TempDir(),
		ServiceBinary: bins.Service,
		Logger:        slog.New(slog.NewTextHandler(&logOut, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Progress: func(p kind.Progress) {
			t.Logf("%6.1fs %s %s %d/%d", p.Elapsed.Seconds(), p.Phase, p.Cluster, p.Done, p.Total)
		},
	})
	// Teardown runs from a defer, even after a failed start, unless
	// AFTERSHOCK_KIND_KEEP=1 keeps a failed run for debugging.
	defer func() {
		if t.Failed() && os.Getenv("AFTERSHOCK_KIND_KEEP") == "1" {
			t.Logf("kept run %s: remove it with kind.Teardown(ctx, %q, \"\")", runID, runID)
			return
		}
		if err := kind.Teardown(context.WithoutCancel(ctx), runID, ""); err != nil {
			t.Errorf("teardown: %v", err)
		}
		assertNothingLeft(t, runID)
	}()
	if err != nil {
		t.Fatalf("Up: %v\nlog:\n%s", err, logOut.String())
	}
	t.Logf("kind fleet of %d clusters Ready in %s\n%s", len(f.KindClusters()), time.Since(start).Round(time.Second), logOut.String())

	nodes := f.Nodes()
	if len(nodes) != 3 {
		t.Fatalf("Nodes() = %d nodes, want 3 (the child's hosted control plane is not a topology node)", len(nodes))
	}
	for _, n := range nodes {
		if n.Address == "" || !strings.HasPrefix(n.NetNSPath, "/proc/") {
			t.Errorf("node %s: address %q netns %q", n.Name, n.Address, n.NetNSPath)
		}
	}

	if _, err := f.StartCloud(ctx, infra.RegionCloudSpec{Region: "eu1"}); err == nil || !strings.Contains(err.Error(), "only aws regions") {
		t.Errorf("a cloud for the gcp region eu1: %v, want a refusal", err)
	}

	t.Run("identity and labels", func(t *testing.T) {
		for _, cluster := range []string{"eu1-parent", "eu1-app1"} {
			cs := clientFor(t, f, cluster)
			list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatalf("%s: list nodes: %v", cluster, err)
			}
			for _, n := range list.Items {
				if n.Labels[infra.LabelCluster] != cluster || n.Labels[infra.LabelRegion] != "eu1" ||
					n.Labels[infra.LabelCloud] != "gcp" || n.Labels[infra.LabelNodeRole] == "" || n.Labels[infra.LabelClusterRole] == "" {
					t.Errorf("%s: node %s labels %v", cluster, n.Name, n.Labels)
				}
			}
			for _, n := range nodes {
				if n.Cluster != cluster {
					continue
				}
				if !hasNode(list.Items, n.Name) {
					t.Errorf("%s: no Node object named %s", cluster, n.Name)
				}
			}
		}
	})

	t.Run("policy routing in the node's namespace", func(t *testing.T) {
		h, err := f.NetlinkHandle(ctx, "eu1-parent-w0")
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		rules, err := h.RuleList(netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		var prios []int
		for _, r := range rules {
			prios = append(prios, r.Priority)
			if r.Priority == 0 {
				t.Errorf("the local rule is still at priority 0: %v", r)
			}
		}
		for _, want := range kind.CNIRulePriorities {
			if !containsInt(prios, want) {
				t.Errorf("no rule at priority %d (have %v)", want, prios)
			}
		}
		// New connections from the node still work: a name lookup through
		// Docker's DNS, and a TCP connection to the hosted child's relay.
		worker, _ := f.Container("eu1-app1-w0")
		host, _ := f.Container("eu1-parent-w0")
		out, err := exec.CommandContext(ctx, "docker", "exec", worker, "bash", "-c",
			fmt.Sprintf("getent hosts %s && timeout 5 bash -c 'echo > /dev/tcp/%s/%d'", host, host, kind.FirstRelayPort)).CombinedOutput()
		if err != nil {
			t.Errorf("new connection from %s through the relay on %s: %v: %s", worker, host, err, out)
		}
	})

	t.Run("a shard answers through its node's routing and comes back after a reboot", func(t *testing.T) {
		eps, err := f.StartService(ctx, infra.ServiceSpec{Name: "metrics-intake", Kind: "sharded", Clusters: []string{"eu1-app1"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(eps) != 1 || eps[0].Node != "eu1-app1-w0" {
			t.Fatalf("endpoints %+v, want one shard on eu1-app1-w0", eps)
		}
		client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: f.ProbeDialer(), DisableKeepAlives: true}}
		query := func() error { return service.Query(ctx, client, "http://"+eps[0].Address+service.QueryPath) }
		if err := query(); err != nil {
			t.Fatalf("the shard does not answer: %v", err)
		}
		if _, err := flushForeignRules(ctx, f, "eu1-app1-w0"); err != nil {
			t.Fatal(err)
		}
		if err := query(); err == nil {
			t.Fatal("the shard still answers after its node lost its rules")
		}
		if err := f.Reboot(ctx, "eu1-app1-w0"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for err := query(); err != nil; err = query() {
			if time.Now().After(deadline) {
				t.Fatalf("the shard does not answer a minute after its node's reboot: %v", err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})

	// The fault path: flush every rule that is not a kernel default, as a
	// networkd restart does, on the parent worker that hosts the child's
	// control plane.
	flushed, err := flushForeignRules(ctx, f, "eu1-parent-w0")
	if err != nil {
		t.Fatal(err)
	}
	cutAt := time.Now()
	t.Logf("flushed %d rules on eu1-parent-w0", len(flushed))

	t.Run("the flush cuts the child control plane", func(t *testing.T) {
		cs := clientFor(t, f, "eu1-app1")
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, cancel := context.WithTimeout(ctx, 3*time.Second)
			_, err := cs.CoreV1().Nodes().List(c, metav1.ListOptions{})
			cancel()
			if err != nil {
				t.Logf("child API unreachable %s after the flush: %v", time.Since(cutAt).Round(time.Millisecond), err)
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the child's API server still answers 30s after its host lost its rules")
			}
			time.Sleep(time.Second)
		}
	})

	t.Run("the flushed node goes NotReady", func(t *testing.T) {
		waitNode(ctx, t, f, "eu1-parent", "eu1-parent-w0", false, 2*time.Minute)
		t.Logf("eu1-parent-w0 NotReady %s after the flush", time.Since(cutAt).Round(time.Second))
	})

	t.Run("reboot restores the node and the relay", func(t *testing.T) {
		start := time.Now()
		if err := f.Reboot(ctx, "eu1-parent-w0"); err != nil {
			t.Fatal(err)
		}
		waitNode(ctx, t, f, "eu1-parent", "eu1-parent-w0", true, 3*time.Minute)
		waitNode(ctx, t, f, "eu1-app1", "eu1-app1-w0", true, 3*time.Minute)
		t.Logf("reboot to Ready (node and child) in %s", time.Since(start).Round(time.Second))
	})

	if t.Failed() && os.Getenv("AFTERSHOCK_KIND_KEEP") == "1" {
		return
	}
	t.Run("terminate removes the container", func(t *testing.T) {
		if err := f.Terminate(ctx, "eu1-app1-w0"); err != nil {
			t.Fatal(err)
		}
		if err := f.Terminate(ctx, "eu1-app1-w0"); err != nil {
			t.Errorf("second terminate: %v", err)
		}
		if len(f.Nodes()) != 2 {
			t.Errorf("Nodes() after terminate = %d, want 2", len(f.Nodes()))
		}
		name, _ := f.Container("eu1-app1-w0")
		if exec.Command("docker", "container", "inspect", name).Run() == nil {
			t.Errorf("container %s still exists", name)
		}
	})

	downStart := time.Now()
	if err := f.Down(ctx); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if err := f.Down(ctx); err != nil {
		t.Errorf("second Down: %v", err)
	}
	t.Logf("Down in %s", time.Since(downStart).Round(time.Second))
}

func clientFor(t *testing.T, f *kind.Fleet, cluster string) kubernetes.Interface {
	t.Helper()
	cfg, err := f.RESTConfig(cluster)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func hasNode(items []corev1.Node, name string) bool {
	for _, n := range items {
		if n.Name == name {
			return true
		}
	}
	return false
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// flushForeignRules deletes every IPv4 rule that is not a kernel default,
// through a handle in the node's namespace, and returns them.
func flushForeignRules(ctx context.Context, f *kind.Fleet, node string) ([]netlink.Rule, error) {
	h, err := f.NetlinkHandle(ctx, node)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	rules, err := h.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	var out []netlink.Rule
	for _, r := range rules {
		kernel := r.Src == nil && r.Dst == nil &&
			((r.Priority == 0 && r.Table == unix.RT_TABLE_LOCAL) ||
				(r.Priority == 32766 && r.Table == unix.RT_TABLE_MAIN) ||
				(r.Priority == 32767 && r.Table == unix.RT_TABLE_DEFAULT))
		if kernel {
			continue
		}
		if err := h.RuleDel(&r); err != nil && !errors.Is(err, unix.ENOENT) {
			return out, fmt.Errorf("delete %v: %w", r, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// waitNode waits until the node's Ready condition is (or is not) True, as
// its cluster's API server reports it.
func waitNode(ctx context.Context, t *testing.T, f *kind.Fleet, cluster, node string, ready bool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		cfg, err := f.RESTConfig(cluster)
		if err == nil {
			var cs kubernetes.Interface
			if cs, err = kubernetes.NewForConfig(cfg); err == nil {
				var n *corev1.Node
				if n, err = cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); err == nil {
					is := false
					for _, c := range n.Status.Conditions {
						if c.Type == corev1.NodeReady {
							is = c.Status == corev1.ConditionTrue
							last = fmt.Sprintf("Ready=%s (%s)", c.Status, c.Reason)
						}
					}
					if is == ready {
						return
					}
				}
			}
		}
		if err != nil {
			last = err.Error()
		}
		time.Sleep(2 * time.Second)
	}
	t.Fatalf("node %s of %s: want Ready=%v within %s; last %s", node, cluster, ready, timeout, last)
}

// assertNothingLeft checks that no container, kind cluster or network of
// the run survives teardown.
func assertNothingLeft(t *testing.T, runID string) {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--filter", "name="+kind.RunPrefix(runID), "--format", "{{.Names}}").Output()
	if err != nil {
		t.Errorf("docker ps: %v", err)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("containers left after teardown: %s", s)
	}
	out, err = exec.Command("docker", "network", "ls", "--filter", "name="+kind.RunPrefix(runID), "--format", "{{.Name}}").Output()
	if err != nil {
		t.Errorf("docker network ls: %v", err)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("networks left after teardown: %s", s)
	}
}

// TestKindReplacement runs an aws region's emulated cloud on kind: the
// networkd flush cuts a child worker off, its auto-scaling group sees its
// status checks fail, terminates it and launches a replacement with a new
// name and address, which logs in to the issuer from its own namespace,
// joins the child cluster with kubeadm under an aws:/// provider ID, stays
// NotReady until the network operator attaches its interfaces, and turns
// Ready.
func TestKindReplacement(t *testing.T) {
	image := kindtest.Require(t)
	topo := topology.Uniform("kind-aws", []topology.RegionShape{{Name: "us1", Cloud: topology.AWS}},
		topology.ClusterShape{ParentControlPlanes: 1, ParentWorkers: 1, Children: 1, ChildWorkers: 1})
	runID := fmt.Sprintf("r%d", time.Now().Unix()%100000)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var logOut strings.Builder
	f, err := kind.Up(ctx, topo, kind.Options{RunID: runID, NodeImage: image, StateRoot: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(&logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	defer func() {
		if err := kind.Teardown(context.WithoutCancel(ctx), runID, ""); err != nil {
			t.Errorf("teardown: %v", err)
		}
		assertNothingLeft(t, runID)
	}()
	if err != nil {
		t.Fatalf("Up: %v\nlog:\n%s", err, logOut.String())
	}
	defer func() {
		if t.Failed() {
			t.Logf("log:\n%s", logOut.String())
		}
		if err := f.Down(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("Down: %v", err)
		}
	}()

	var mu sync.Mutex
	var steps []cloud.Replacement
	rc, err := f.StartCloud(ctx, infra.RegionCloudSpec{
		Region: "us1", Limits: cloud.DefaultLimits(), FailedChecks: 2, CheckInterval: time.Second,
		NetworkRetry: cloud.ExponentialRetry(100*time.Millisecond, 2*time.Second),
		OnReplacement: func(r cloud.Replacement) {
			mu.Lock()
			steps = append(steps, r)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.StartCloud(ctx, infra.RegionCloudSpec{Region: "us1"}); err == nil {
		t.Error("a second cloud for us1 was started")
	}

	start := time.Now()
	if _, err := flushForeignRules(ctx, f, "us1-app1-w0"); err != nil {
		t.Fatal(err)
	}
	var replacement cloud.Replacement
	deadline := time.Now().Add(3 * time.Minute)
	for replacement.New == "" && time.Now().Before(deadline) {
		time.Sleep(time.Second)
		mu.Lock()
		for _, r := range steps {
			if r.Err != nil {
				t.Fatalf("replacement failed: %v", r.Err)
			}
			if r.Old == "us1-app1-w0" && r.State == cloud.StateUnregistered {
				replacement = r
			}
		}
		mu.Unlock()
	}
	if replacement.New == "" {
		t.Fatalf("us1-app1-w0 was not replaced within 3 minutes; steps %+v", steps)
	}
	t.Logf("replaced by %s (instance %s) %s after the flush", replacement.New, replacement.InstanceID, time.Since(start).Round(time.Second))
	if !strings.HasPrefix(replacement.New, "ip-") {
		t.Errorf("replacement name %q is not EC2's ip-a-b-c-d", replacement.New)
	}
	if !slices.ContainsFunc(f.Nodes(), func(n infra.Node) bool {
		return n.Name == replacement.New && strings.HasPrefix(n.NetNSPath, "/proc/")
	}) {
		t.Errorf("the fleet's nodes do not include %s with its namespace: %+v", replacement.New, f.Nodes())
	}
	waitNode(ctx, t, f, "us1-app1", replacement.New, true, 3*time.Minute)
	t.Logf("%s Ready %s after the flush", replacement.New, time.Since(start).Round(time.Second))

	cs := clientFor(t, f, "us1-app1")
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if n.Name == "us1-app1-w0" {
			t.Error("the terminated node's Node object is still there")
		}
		if n.Name == replacement.New {
			if want := "aws:///us1/" + replacement.InstanceID; n.Spec.ProviderID != want {
				t.Errorf("providerID %q, want %q", n.Spec.ProviderID, want)
			}
			if got := strings.Split(n.Annotations[infra.AnnotationNetworkInterfaces], ","); len(got) != cloud.DefaultInterfacesPerNode {
				t.Errorf("interfaces %v, want %d", got, cloud.DefaultInterfacesPerNode)
			}
			if n.Labels[infra.LabelCluster] != "us1-app1" {
				t.Errorf("labels %v", n.Labels)
			}
		}
	}
	stats := rc.Stats()
	for _, api := range []string{cloud.APIRunInstances, cloud.APITerminateInstances, cloud.APIIssuerLogin, cloud.APICreateNetworkInterface} {
		if stats[api].Calls == 0 {
			t.Errorf("no %s call was made: %+v", api, stats)
		}
	}
	if c, err := f.Container("us1-app1-w0"); err == nil {
		if out, _ := exec.Command("docker", "ps", "-a", "--filter", "name=^"+c+"$", "--format", "{{.Names}}").Output(); strings.TrimSpace(string(out)) != "" {
			t.Errorf("the terminated node's container %s is still there", c)
		}
	}
}
