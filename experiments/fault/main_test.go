package fault

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/aftershock-sre/aftershock/experiments/journal"
)

// Environment of the helper process that injects and then dies by SIGKILL.
const (
	helperEnv        = "AFTERSHOCK_FAULT_TEST_HELPER"
	helperJournalEnv = "AFTERSHOCK_FAULT_TEST_JOURNAL"
	helperNetNSEnv   = "AFTERSHOCK_FAULT_TEST_NETNS"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "inject-then-sigkill" {
		injectThenDie()
	}
	code := m.Run()
	// A test that panicked skipped its cleanups: leave no namespace behind.
	if leftover := sweepNamespaces(); len(leftover) > 0 {
		fmt.Fprintf(os.Stderr, "removed leftover namespaces: %s\n", strings.Join(leftover, " "))
	}
	os.Exit(code)
}

// injectThenDie is the crashing run: it injects with a journal and is killed
// before it can revert, as by the OOM killer.
func injectThenDie() {
	j, err := journal.Open(os.Getenv(helperJournalEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	path := os.Getenv(helperNetNSEnv)
	f := NewNetworkdRestart(filepath.Base(path), path, DefaultNetworkdConfig(), j, "crash/"+filepath.Base(path)+"/networkd-restart/1")
	if err := f.Inject(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

var nsPrefix = fmt.Sprintf("as-ftest%d-", os.Getpid())

var nsCounter atomic.Int64

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and changes their rules with netlink")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip to build and inspect test namespaces")
	}
}

// newNamespace creates an empty named network namespace, deleted when the
// test ends, and returns its name.
func newNamespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("%s%d", nsPrefix, nsCounter.Add(1))
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", name).Run() })
	return name
}

func nsPath(name string) string { return "/run/netns/" + name }

// The lab node's network, as infra/lab builds it: a /32 on eth0, the CNI's
// routes in table 2004, the local lookup moved from priority 0 to 100, and
// Cilium's rules at 20 and 111 (protocol unspec). Two more rules are not
// foreign: one with protocol kernel, one that testDeclared declares.
var (
	labNodeV4 = []string{
		"link set lo up",
		"link add eth0 type veth peer name peer0",
		"link set eth0 up",
		"link set peer0 up",
		"addr add 10.9.0.10/32 dev eth0",
		"route add 10.9.0.0/16 dev eth0 scope link table 2004",
		"route add default via 10.9.0.1 dev eth0 onlink table 2004",
		"rule add pref 100 lookup local",
		"rule del pref 0",
		"rule add pref 20 to 10.9.0.10/32 lookup main",
		"rule add pref 111 from 10.9.0.10/32 lookup 2004",
		"rule add pref 30000 from 192.0.2.0/24 lookup main protocol kernel",
		"rule add pref 32000 to 198.51.100.0/24 lookup 3000",
	}
	labNodeV6 = []string{
		"route add fd00:9::/64 dev eth0 table 2004",
		"rule add pref 111 from fd00:9::10/128 lookup 2004",
	}
	// The priorities of the foreign rules above, per family.
	labForeignV4 = []int{20, 100, 111}
	labForeignV6 = []int{111}
)

// testDeclared is the configuration of the lab node above: its .network file
// declares the rule at 32000.
func testDeclared() NetworkdConfig {
	cfg := DefaultNetworkdConfig()
	_, dst, _ := net.ParseCIDR("198.51.100.0/24")
	cfg.DeclaredRules = []netlink.Rule{{Priority: 32000, Table: 3000, Dst: dst}}
	return cfg
}

// newLabNode creates a namespace that looks like a lab node and returns its
// name. extraV4 lines are added to the IPv4 batch.
func newLabNode(t testing.TB, extraV4 ...string) string {
	t.Helper()
	name := newNamespace(t)
	// No duplicate address detection: its late kernel routes would make
	// before/after comparisons flaky.
	run(t, "ip", "netns", "exec", name, "sysctl", "-qw",
		"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	ipBatch(t, name, "-4", append(append([]string(nil), labNodeV4...), extraV4...))
	ipBatch(t, name, "-6", labNodeV6)
	return name
}

func ipBatch(t testing.TB, ns, family string, lines []string) {
	t.Helper()
	cmd := exec.Command("ip", family, "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip %s -n %s -batch: %v: %s", family, ns, err, out)
	}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// netState is the namespace's rules and routes as iproute2 prints them.
func netState(t testing.TB, ns string) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{
		{"-d", "-4", "rule", "show"},
		{"-d", "-6", "rule", "show"},
		{"-d", "-4", "route", "show", "table", "all"},
		{"-d", "-6", "route", "show", "table", "all"},
	} {
		fmt.Fprintf(&b, "# ip %s\n", strings.Join(args, " "))
		b.WriteString(run(t, "ip", append([]string{"-n", ns}, args...)...))
	}
	return b.String()
}

// rulesState is only the namespace's rules, as iproute2 prints them.
func rulesState(t testing.TB, ns string) string {
	t.Helper()
	return run(t, "ip", "-n", ns, "-d", "-4", "rule", "show") + run(t, "ip", "-n", ns, "-d", "-6", "rule", "show")
}

func routesState(t testing.TB, ns string) string {
	t.Helper()
	return run(t, "ip", "-n", ns, "-d", "-4", "route", "show", "table", "all") +
		run(t, "ip", "-n", ns, "-d", "-6", "route", "show", "table", "all")
}

// sweepNamespaces deletes this process's test namespaces.
func sweepNamespaces() []string {
	entries, _ := os.ReadDir("/run/netns")
	var removed []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), nsPrefix) {
			exec.Command("ip", "netns", "delete", e.Name()).Run()
			removed = append(removed, e.Name())
		}
	}
	return removed
}
