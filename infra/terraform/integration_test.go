package terraform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/lab"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// binDirEnv names a folder holding prebuilt aftershock, aftershock-agent and
// aftershock-service binaries for TestLabModule; without it the test builds
// them from this checkout.
const binDirEnv = "AFTERSHOCK_TEST_BIN_DIR"

// labRequirements skips the test unless a real lab can run under a real
// terraform here, and returns the terraform binary.
func labRequirements(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the lab module creates network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip (make deps)")
	}
	tf, err := FindBinary(context.Background())
	if err != nil {
		t.Skipf("needs terraform or tofu: %v", err)
	}
	bins, err := lab.FindBinaries()
	if err != nil {
		t.Skipf("needs the lab's binaries (make deps): %v", err)
	}
	// terraform runs the provisioners in its working dir, where the lab
	// would not find the Kubernetes binaries by the folder they are in.
	if os.Getenv("AFTERSHOCK_KUBE_BIN") == "" {
		t.Setenv("AFTERSHOCK_KUBE_BIN", filepath.Dir(bins.APIServer))
	}
	return tf
}

// built is the aftershock build the lab tests share; TestMain removes it.
var built struct {
	once sync.Once
	dir  string
	err  error
}

// buildAftershock returns a folder with aftershock and its companions.
func buildAftershock(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv(binDirEnv); dir != "" {
		return dir
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "aftershock-tftest-bin-"); built.err != nil {
			return
		}
		build := exec.Command("go", "build", "-o", built.dir+"/",
			"github.com/aftershock-sre/aftershock/cmd/aftershock",
			"github.com/aftershock-sre/aftershock/cmd/aftershock-agent",
			"github.com/aftershock-sre/aftershock/cmd/aftershock-service")
		if out, err := build.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("build aftershock: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

// rootConfig is a working dir that uses the lab module, as a team's root
// module would: it declares the game-day variable and passes it on.
const rootConfig = `
variable "aftershock_game_day" {
  type    = bool
  default = false
}
variable "aftershock" { type = string }
variable "topology_file" { type = string }
variable "run_id" { type = string }
variable "state_root" { type = string }

module "lab" {
  source              = %q
  aftershock_game_day = var.aftershock_game_day
  aftershock          = var.aftershock
  topology_file       = var.topology_file
  run_id              = var.run_id
  state_root          = var.state_root
}

output "aftershock_fleet" {
  value = module.lab.aftershock_fleet
}
`

// TestLabModule applies infra/terraform/modules/lab with the real terraform,
// reads and validates its fleet, reboots a node and injects and reverts
// networkd-restart through the commands the inventory declares, destroys it,
// and checks that nothing of the lab is left.
func TestLabModule(t *testing.T) {
	tfBin := labRequirements(t)
	bins := buildAftershock(t)
	aftershock := filepath.Join(bins, "aftershock")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	moduleDir, err := filepath.Abs("modules/lab")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "main.tf"), fmt.Appendf(nil, rootConfig, moduleDir), 0o644); err != nil {
		t.Fatal(err)
	}
	topo := topology.Topology{Name: "tf-lab", Regions: []topology.Region{{
		Name: "eu1", Cloud: topology.GCP, Clusters: []topology.Cluster{
			{Name: "eu1-parent", Role: topology.Parent, ControlPlanes: 1, Workers: 1},
			{Name: "eu1-app", Role: topology.Child, Parent: "eu1-parent", Workers: 1},
		},
	}}}
	topoFile := filepath.Join(work, "topology.yaml")
	if err := writeTopology(topoFile, topo); err != nil {
		t.Fatal(err)
	}
	runID := fmt.Sprintf("tf%d", os.Getpid()%1000000)
	stateRoot := filepath.Join(os.TempDir(), "aftershock-tftest-"+runID)
	t.Cleanup(func() { _ = os.RemoveAll(stateRoot) })
	vars := []string{"aftershock=" + aftershock, "topology_file=" + topoFile, "run_id=" + runID, "state_root=" + stateRoot}
	progress := &testWriter{t: t}
	open := func(gameDay bool) *Module {
		m, err := Open(ctx, Options{Dir: work, Binary: tfBin, Progress: progress,
			Vars: append(slices.Clone(vars), fmt.Sprintf("aftershock_game_day=%t", gameDay))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		return m
	}
	step := stepTimer(t)

	// Whatever happens below, destroy through the module, then make sure by
	// name, and check that nothing is left.
	marked := open(true)
	defer func() {
		if err := marked.Destroy(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("destroy: %v", err)
			_ = lab.Teardown(context.WithoutCancel(ctx), runID, stateRoot)
		}
		step("destroy")
		assertNoLab(t, runID, stateRoot)
	}()

	if err := marked.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(work, ".terraform", "providers")); err == nil {
		t.Error("terraform init installed providers: the lab module must need none")
	}
	step("init")

	// Unmarked, the real plan is refused before anything is created.
	unmarked := open(false)
	p, err := unmarked.Plan(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := unmarked.Apply(ctx, p); !errors.Is(err, ErrNotMarked) {
		t.Fatalf("apply of an unmarked working dir: %v", err)
	}
	if names := labNamespaces(t, runID); len(names) > 0 {
		t.Fatalf("a refused apply created %v", names)
	}
	step("refused unmarked apply")

	p, err = marked.Plan(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Marked || !p.Changes || !strings.Contains(p.Summary(), "+ module.lab.terraform_data.lab") {
		t.Fatalf("plan:\n%s", p.Summary())
	}
	if err := marked.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	step("apply (lab up)")

	inv, err := marked.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := NewFleet(inv, FleetOptions{Source: marked.Source(), BaseDir: work, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	if !fleet.GameDay() {
		t.Error("the applied fleet's output does not carry game_day = true")
	}
	if err := MatchTopology(topo, fleet.Topology()); err != nil {
		t.Fatal(err)
	}
	if len(fleet.Nodes()) != 3 {
		t.Fatalf("fleet has %d nodes, want 3", len(fleet.Nodes()))
	}
	for _, n := range inv.Nodes {
		if n.NetNS != "/run/netns/"+n.ID || !strings.HasPrefix(n.ID, lab.NamespacePrefix+runID+"-") {
			t.Errorf("node %s: id %q netns %q", n.Name, n.ID, n.NetNS)
		}
	}
	waitReady(ctx, t, fleet, "")
	step("output, validate, every node Ready through the kubeconfigs")

	// Reboot a parent worker (it hosts the child's control plane) through
	// the declared command: its processes restart and it is Ready again.
	rebooted := "eu1-parent-w0"
	before := processesIn(t, "/run/netns/"+lab.NamespacePrefix+runID+"-"+rebooted)
	if err := fleet.Reboot(ctx, rebooted); err != nil {
		t.Fatal(err)
	}
	after := processesIn(t, "/run/netns/"+lab.NamespacePrefix+runID+"-"+rebooted)
	if len(before) == 0 || len(after) == 0 || slices.ContainsFunc(after, func(pid int) bool { return slices.Contains(before, pid) }) {
		t.Errorf("reboot of %s: processes before %v, after %v (want all new)", rebooted, before, after)
	}
	waitReady(ctx, t, fleet, rebooted)
	step("reboot through the declared command")

	t.Run("networkd-restart through exec", func(t *testing.T) {
		if out, err := exec.Command(aftershock, "inject", "--help").CombinedOutput(); err != nil {
			t.Skipf("this aftershock has no inject command (wire injectcmd.NewCommand into cmd/aftershock/internal/app): %v: %s",
				err, firstLine(out))
		}
		node := "eu1-app-w0"
		ns := lab.NamespacePrefix + runID + "-" + node
		rulesBefore := ipRules(t, ns)
		fault, err := fleet.NetworkdRestart(node, runID+"/"+node+"/networkd-restart/1", NetworkdSpec{
			ManageForeignRoutingPolicyRules: true, ManagedLinks: []string{"eth0"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := fault.Inject(ctx); err != nil {
			t.Fatal(err)
		}
		flushed := ipRules(t, ns)
		if flushed == rulesBefore || strings.Count(flushed, "\n") >= strings.Count(rulesBefore, "\n") {
			t.Errorf("inject removed no rule:\nbefore\n%s\nafter\n%s", rulesBefore, flushed)
		}
		journal := fleet.NodeJournal(node)
		if data, err := os.ReadFile(journal); err != nil || !strings.Contains(string(data), `"state":"injected"`) {
			t.Errorf("node journal %s: %v\n%s", journal, err, data)
		}
		if err := fault.Revert(ctx); err != nil {
			t.Fatal(err)
		}
		if got := ipRules(t, ns); got != rulesBefore {
			t.Errorf("rules after revert:\n%s\nwant\n%s", got, rulesBefore)
		}
		step("inject and revert networkd-restart through exec")
	})
}

// TestLabModuleProvider brings the lab module up through the Provider, as a
// scenario does (the scenario's topology passed as topology_file), terminates
// a node through the declared command, and takes the fleet down.
func TestLabModuleProvider(t *testing.T) {
	tfBin := labRequirements(t)
	bins := buildAftershock(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	moduleDir, err := filepath.Abs("modules/lab")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "main.tf"), fmt.Appendf(nil, rootConfig, moduleDir), 0o644); err != nil {
		t.Fatal(err)
	}
	runID := fmt.Sprintf("tp%d", os.Getpid()%1000000)
	stateRoot := filepath.Join(os.TempDir(), "aftershock-tftest-"+runID)
	t.Cleanup(func() { _ = os.RemoveAll(stateRoot) })
	topo, err := topology.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	p := Provider{
		Module: Options{Dir: work, Binary: tfBin, Progress: &testWriter{t: t}, Vars: []string{
			"aftershock=" + filepath.Join(bins, "aftershock"), "run_id=" + runID, "state_root=" + stateRoot,
			"aftershock_game_day=true",
		}},
		Apply: true, Destroy: true, TopologyVar: "topology_file",
	}
	step := stepTimer(t)
	fleet, err := p.Up(ctx, topo)
	if err != nil {
		_ = lab.Teardown(context.WithoutCancel(ctx), runID, stateRoot)
		t.Fatal(err)
	}
	defer func() {
		if err := fleet.Down(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("down: %v", err)
			_ = lab.Teardown(context.WithoutCancel(ctx), runID, stateRoot)
		}
		step("down (destroy)")
		assertNoLab(t, runID, stateRoot)
	}()
	step("provider up (init, plan, apply, output)")
	tf := fleet.(*Fleet)
	if err := MatchTopology(topo, tf.Topology()); err != nil {
		t.Error(err)
	}
	waitReady(ctx, t, tf, "")

	victim := "eu1-app1-w1"
	if err := tf.Terminate(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(labNamespaces(t, runID), lab.NamespacePrefix+runID+"-"+victim) {
		t.Errorf("terminate left the namespace of %s", victim)
	}
	if slices.ContainsFunc(tf.Nodes(), func(n infra.Node) bool { return n.Name == victim }) {
		t.Errorf("terminated %s is still in Nodes()", victim)
	}
	if err := tf.Reboot(ctx, victim); err == nil {
		t.Error("reboot of a terminated node succeeded")
	}
	step("terminate through the declared command")
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// stepTimer logs how long each step took.
func stepTimer(t *testing.T) func(string) {
	last := time.Now()
	return func(name string) {
		t.Logf("step %-60s %6.1fs", name, time.Since(last).Seconds())
		last = time.Now()
	}
}

// waitReady waits until every node (or the one named) is Ready, as seen
// through the fleet's RESTConfig.
func waitReady(ctx context.Context, t *testing.T, fleet *Fleet, only string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var notReady []string
		for _, rc := range fleet.Topology().Clusters() {
			cfg, err := fleet.RESTConfig(rc.Cluster.Name)
			if err != nil {
				t.Fatal(err)
			}
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				notReady = append(notReady, rc.Cluster.Name+": "+err.Error())
				continue
			}
			for _, n := range nodes.Items {
				if only != "" && n.Name != only {
					continue
				}
				if !isReady(n) {
					notReady = append(notReady, n.Name)
				}
			}
		}
		if len(notReady) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not Ready after 2m: %v", notReady)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func isReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func ipRules(t *testing.T, ns string) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "rule", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s rule show: %v: %s", ns, err, out)
	}
	return string(out)
}

// processesIn lists the pids whose network namespace is the one at path.
func processesIn(t *testing.T, path string) []int {
	t.Helper()
	want, err := nsOf(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		if got, err := nsOf("/proc/" + e.Name() + "/ns/net"); err == nil && got == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// nsID identifies a namespace: two paths name the same one when equal.
type nsID struct{ dev, ino uint64 }

func nsOf(path string) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsID{}, err
	}
	return nsID{st.Dev, st.Ino}, nil
}

func labNamespaces(t *testing.T, runID string) []string {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), lab.NamespacePrefix+runID+"-") {
			names = append(names, e.Name())
		}
	}
	return names
}

// assertNoLab checks that no namespace, folder or process of the run is left.
func assertNoLab(t *testing.T, runID, stateRoot string) {
	t.Helper()
	if names := labNamespaces(t, runID); len(names) > 0 {
		t.Errorf("namespaces left after destroy: %v", names)
	}
	if _, err := os.Stat(filepath.Join(stateRoot, runID)); err == nil {
		t.Errorf("lab folder %s left after destroy", filepath.Join(stateRoot, runID))
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cmdline), stateRoot) {
			t.Errorf("process %s left after destroy: %s", e.Name(), strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
}

// testWriter logs what it is given, line by line.
type testWriter struct {
	t   *testing.T
	mu  sync.Mutex
	buf []byte
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := slices.Index(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.t.Log(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
}

var _ io.Writer = (*testWriter)(nil)
