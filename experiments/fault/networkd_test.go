package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/aftershock-sre/aftershock/experiments/journal"
)

// nodeRules lists a namespace's rules through netlink (the library's own
// decoder, independent of this package's), as "family:priority:protocol".
func nodeRules(t *testing.T, ns string) []string {
	t.Helper()
	h := handleIn(t, ns)
	var out []string
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules, err := h.RuleList(family)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			out = append(out, fmt.Sprintf("%s:%d:%d", familyName(family), r.Priority, r.Protocol))
		}
	}
	return out
}

func handleIn(t *testing.T, ns string) *netlink.Handle {
	t.Helper()
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nsh.Close() })
	h, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func without(all []string, gone ...string) []string {
	return slices.DeleteFunc(slices.Clone(all), func(s string) bool { return slices.Contains(gone, s) })
}

func TestInjectDeletesExactlyTheForeignRules(t *testing.T) {
	requireRoot(t)
	ns := newLabNode(t)
	before := nodeRules(t, ns)
	beforeRoutes := routesState(t, ns)
	cfg := testDeclared()
	cfg.ManageForeignRoutes = false
	f := NewNetworkdRestart(ns, nsPath(ns), cfg, nil, "")
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	var foreign []string
	for _, p := range labForeignV4 {
		foreign = append(foreign, fmt.Sprintf("inet:%d:0", p))
	}
	for _, p := range labForeignV6 {
		foreign = append(foreign, fmt.Sprintf("inet6:%d:0", p))
	}
	after := nodeRules(t, ns)
	if want := without(before, foreign...); !slices.Equal(after, want) {
		t.Fatalf("rules after Inject\n got %v\nwant %v (before: %v)", after, want, before)
	}
	// What survives: the kernel's defaults, the protocol-kernel rule and
	// the declared rule.
	for _, keep := range []string{"inet:30000:2", "inet:32000:0", "inet:32766:2", "inet:32767:2", "inet6:0:2", "inet6:32766:2"} {
		if !slices.Contains(after, keep) {
			t.Errorf("rule %s did not survive: %v", keep, after)
		}
	}
	if got := routesState(t, ns); got != beforeRoutes {
		t.Errorf("routes changed with ManageForeignRoutes off:\n%s\nwas\n%s", got, beforeRoutes)
	}
	snap, ok := f.Snapshot()
	if !ok || len(snap.Rules) != len(foreign) || len(snap.Routes) != 0 {
		t.Fatalf("snapshot %+v, want %d rules and no routes", snap, len(foreign))
	}
}

func TestManageSettings(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name                  string
		rules, routes         bool
		rulesGone, routesGone bool
		wantRules, wantRoutes int
	}{
		{name: "both off (the 2023 fix) deletes nothing", rules: false, routes: false},
		{name: "rules only", rules: true, routes: false, rulesGone: true, wantRules: 4},
		{name: "routes only", rules: false, routes: true, routesGone: true, wantRoutes: 3},
		{name: "systemd defaults", rules: true, routes: true, rulesGone: true, routesGone: true, wantRules: 4, wantRoutes: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newLabNode(t)
			rulesBefore, routesBefore := rulesState(t, ns), routesState(t, ns)
			cfg := testDeclared()
			cfg.ManageForeignRoutingPolicyRules, cfg.ManageForeignRoutes = tt.rules, tt.routes
			f := NewNetworkdRestart(ns, nsPath(ns), cfg, nil, "")
			if err := f.Inject(context.Background()); err != nil {
				t.Fatal(err)
			}
			snap, _ := f.Snapshot()
			if len(snap.Rules) != tt.wantRules || len(snap.Routes) != tt.wantRoutes {
				t.Errorf("snapshot has %d rules and %d routes, want %d and %d", len(snap.Rules), len(snap.Routes), tt.wantRules, tt.wantRoutes)
			}
			if changed := rulesState(t, ns) != rulesBefore; changed != tt.rulesGone {
				t.Errorf("rules changed: %v, want %v", changed, tt.rulesGone)
			}
			if changed := routesState(t, ns) != routesBefore; changed != tt.routesGone {
				t.Errorf("routes changed: %v, want %v", changed, tt.routesGone)
			}
			if err := f.Revert(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := rulesState(t, ns); got != rulesBefore {
				t.Errorf("rules after Revert:\n%s\nwant\n%s", got, rulesBefore)
			}
			if got := routesState(t, ns); got != routesBefore {
				t.Errorf("routes after Revert:\n%s\nwant\n%s", got, routesBefore)
			}
		})
	}
}

func TestForeignRoutesAreTheCNITable(t *testing.T) {
	requireRoot(t)
	ns := newLabNode(t)
	// `ip route add` (like netlink.RouteAdd with no protocol) installs
	// routes with protocol boot, not kernel: networkd calls them foreign.
	h := handleIn(t, ns)
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := h.RouteListFiltered(family, &netlink.Route{Table: 2004}, netlink.RT_FILTER_TABLE)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range routes {
			if r.Protocol != unix.RTPROT_BOOT {
				t.Fatalf("table 2004 route %s has protocol %d, want boot", r, r.Protocol)
			}
		}
	}
	f := NewNetworkdRestart(ns, nsPath(ns), DefaultNetworkdConfig(), nil, "")
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	snap, _ := f.Snapshot()
	var got []string
	for _, r := range snap.Routes {
		got = append(got, r.String())
	}
	want := []string{
		"0.0.0.0/0 via 10.9.0.1 dev eth0 table 2004 proto 3 scope 0 onlink",
		"10.9.0.0/16 dev eth0 table 2004 proto 3 scope 253",
		"fd00:9::/64 dev eth0 table 2004 proto 3 scope 0 metric 1024",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("foreign routes\n got %q\nwant %q", got, want)
	}
	if out := run(t, "ip", "-n", ns, "route", "show", "table", "2004"); out != "" {
		t.Errorf("table 2004 still has routes after Inject:\n%s", out)
	}
	// The kernel's own routes (local table, link-local) are untouched.
	if out := run(t, "ip", "-n", ns, "route", "show", "table", "local"); !strings.Contains(out, "local 10.9.0.10 dev eth0") {
		t.Errorf("the kernel's local route went away:\n%s", out)
	}
	if err := f.Revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out := run(t, "ip", "-n", ns, "route", "show", "table", "2004"); !strings.Contains(out, "default via 10.9.0.1 dev eth0 onlink") {
		t.Errorf("table 2004 after Revert:\n%s", out)
	}
}

func TestRevertRestoresExactlyAndIsIdempotent(t *testing.T) {
	requireRoot(t)
	ns := newLabNode(t)
	before := netState(t, ns)
	f := NewNetworkdRestart(ns, nsPath(ns), testDeclared(), nil, "")
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	if netState(t, ns) == before {
		t.Fatal("Inject changed nothing")
	}
	for i := range 2 {
		if err := f.Revert(context.Background()); err != nil {
			t.Fatalf("Revert #%d: %v", i+1, err)
		}
		if got := netState(t, ns); got != before {
			t.Fatalf("after Revert #%d:\n%s\nwant\n%s", i+1, got, before)
		}
	}
	// A second inject/revert cycle works too.
	if err := f.Inject(context.Background()); err != nil {
		t.Fatalf("Inject after Revert: %v", err)
	}
	if err := f.Revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := netState(t, ns); got != before {
		t.Fatalf("after the second cycle:\n%s\nwant\n%s", got, before)
	}
}

func TestInjectTwiceIsRefused(t *testing.T) {
	requireRoot(t)
	ns := newLabNode(t)
	f := NewNetworkdRestart(ns, nsPath(ns), testDeclared(), nil, "")
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	first, _ := f.Snapshot()
	if err := f.Inject(context.Background()); err == nil || !strings.Contains(err.Error(), "already injected") {
		t.Fatalf("second Inject = %v, want a refusal", err)
	}
	// The refusal kept the first snapshot, the one that can restore.
	if second, _ := f.Snapshot(); len(second.Rules) != len(first.Rules) || len(first.Rules) == 0 {
		t.Fatalf("snapshot changed: %d rules, was %d", len(second.Rules), len(first.Rules))
	}
	if err := f.Revert(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Every kind of rule iproute2 can make comes back as it was: the reason this
// package encodes rules itself rather than through netlink.Rule.
func TestRevertRestoresEveryKindOfRule(t *testing.T) {
	requireRoot(t)
	ns := newLabNode(t,
		"rule add pref 200 not from 10.1.0.0/16 fwmark 0x10/0xff iif eth0 lookup 2004",
		"rule add pref 201 ipproto tcp dport 80-90 sport 1000 uidrange 100-200 lookup 2004",
		"rule add pref 202 from 10.2.0.0/16 unreachable",
		"rule add pref 203 prohibit",
		"rule add pref 204 blackhole",
		"rule add pref 205 goto 300",
		"rule add pref 206 nop",
		"rule add pref 300 lookup main suppress_prefixlength 0",
		"rule add pref 301 oif eth0 lookup 2004",
		"rule add pref 302 tos 0x10 lookup main",
		"rule add pref 303 realms 5 lookup main",
		"rule add pref 304 tun_id 7 lookup main",
		"rule add pref 306 from 10.3.0.7/16 lookup main",
		"rule add pref 307 iif lo lookup main suppress_ifgroup 5",
		"rule add pref 308 fwmark 0/0xff lookup main",
		"rule add pref 309 iif nonexist lookup main",
		"rule add pref 310 lookup 100000 protocol static",
	)
	before := netState(t, ns)
	f := NewNetworkdRestart(ns, nsPath(ns), testDeclared(), nil, "")
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	snap, _ := f.Snapshot()
	if want := 4 + 17; len(snap.Rules) != want {
		t.Errorf("snapshot has %d rules, want %d", len(snap.Rules), want)
	}
	left := run(t, "ip", "-n", ns, "-4", "rule", "show")
	for _, p := range []string{"200:", "202:", "205:", "309:", "310:"} {
		if strings.Contains(left, "\n"+p) || strings.HasPrefix(left, p) {
			t.Errorf("rule %s survived Inject:\n%s", p, left)
		}
	}
	if err := f.Revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := netState(t, ns); got != before {
		t.Fatalf("after Revert:\n%s\nwant\n%s", got, before)
	}
}

func TestJournalHasTheSnapshotBeforeAnythingIsDeleted(t *testing.T) {
	requireRoot(t)
	ns := newLabNode(t)
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	before := rulesState(t, ns)
	id := "run1/" + ns + "/networkd-restart/1"
	f := NewNetworkdRestart(ns, nsPath(ns), testDeclared(), j, id)
	observed := false
	f.beforeDelete = func() {
		observed = true
		entries, err := journal.Read(path)
		if err != nil {
			t.Errorf("journal at the moment of deletion: %v", err)
			return
		}
		if len(entries) != 1 || entries[0].State != journal.StateInjecting || entries[0].ID != id {
			t.Errorf("journal at the moment of deletion: %+v, want one injecting entry", entries)
			return
		}
		var snap NetworkdSnapshot
		if err := json.Unmarshal(entries[0].Snapshot, &snap); err != nil || len(snap.Rules) != 4 || len(snap.Routes) != 3 {
			t.Errorf("journalled snapshot %s (%v), want 4 rules and 3 routes", entries[0].Snapshot, err)
		}
		if got := rulesState(t, ns); got != before {
			t.Errorf("rules changed before the journal entry was read:\n%s", got)
		}
	}
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !observed {
		t.Fatal("the moment before deletion was never observed")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"state":"injecting"`, `"state":"injected"`, `"src":"10.9.0.10/32"`, `"table":2004`, `"gw":"10.9.0.1"`, `"netns":"` + nsPath(ns) + `"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("journal lacks %s:\n%s", want, data)
		}
	}
	if err := f.Revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, e := range entries {
		states = append(states, e.State)
	}
	if want := []string{"injecting", "injected", "reverting", "reverted"}; !slices.Equal(states, want) {
		t.Errorf("journal states %v, want %v", states, want)
	}
	if p := journal.Pending(entries); len(p) != 0 {
		t.Errorf("pending after Revert: %+v", p)
	}
}

func TestNothingIsDeletedWithoutAJournalEntry(t *testing.T) {
	requireRoot(t)
	ns := newLabNode(t)
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	j.Close() // every Record now fails
	before := netState(t, ns)
	f := NewNetworkdRestart(ns, nsPath(ns), testDeclared(), j, "run1/n/networkd-restart/1")
	err = f.Inject(context.Background())
	if !errors.Is(err, journal.ErrClosed) || !strings.Contains(err.Error(), "nothing deleted") {
		t.Fatalf("Inject = %v, want a journal error saying nothing was deleted", err)
	}
	if got := netState(t, ns); got != before {
		t.Fatalf("Inject deleted without a journal entry:\n%s", got)
	}
	if err := f.Revert(context.Background()); err != nil {
		t.Fatalf("Revert = %v, want nothing to do", err)
	}
}

func TestFailedDeleteIsJournalledAndReverted(t *testing.T) {
	requireRoot(t)
	ns := newLabNode(t)
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	before := netState(t, ns)
	f := NewNetworkdRestart(ns, nsPath(ns), testDeclared(), j, "run1/n/networkd-restart/1")
	// After the first rule, a rule the kernel refuses to even look up
	// (an inverted port range): its delete fails with EINVAL.
	bogus := RuleRecord{Family: "inet", Priority: 7, Action: unix.FR_ACT_TO_TBL, Table: 2004, Dport: &PortRange{Start: 90, End: 80}}
	f.beforeDelete = func() { f.snap.Rules = slices.Insert(f.snap.Rules, 1, bogus) }
	err = f.Inject(context.Background())
	if err == nil || !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "on "+ns) || !strings.Contains(err.Error(), "delete rule "+bogus.String()) {
		t.Fatalf("Inject = %v, want EINVAL naming the node and the rule", err)
	}
	entries, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if last.State != journal.StateFailed || !strings.Contains(last.Error, "invalid argument") {
		t.Fatalf("last journal entry %+v, want failed with the error", last)
	}
	if p := journal.Pending(entries); len(p) != 1 {
		t.Fatalf("a failed injection must stay pending, got %+v", p)
	}
	if rulesState(t, ns) == before {
		t.Fatal("the first rule was not deleted before the failure")
	}
	f.snap.Rules = slices.Delete(f.snap.Rules, 1, 2) // the kernel would refuse to re-add it too
	if err := f.Revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := netState(t, ns); got != before {
		t.Fatalf("after Revert:\n%s\nwant\n%s", got, before)
	}
}

func TestRevertAfterTheNodeIsGone(t *testing.T) {
	requireRoot(t)
	ns := newLabNode(t)
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	f := NewNetworkdRestart(ns, nsPath(ns), testDeclared(), j, "run1/n/networkd-restart/1")
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "netns", "delete", ns) // the node was terminated
	if err := f.Revert(context.Background()); err != nil {
		t.Fatalf("Revert of a terminated node = %v, want success", err)
	}
	entries, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if last.State != journal.StateReverted || last.Error != "target gone: "+nsPath(ns) {
		t.Fatalf("last journal entry %+v, want reverted with \"target gone: %s\"", last, nsPath(ns))
	}
	if err := f.Revert(context.Background()); err != nil {
		t.Fatalf("second Revert = %v", err)
	}
	if n, _ := journal.Read(path); len(n) != len(entries) {
		t.Errorf("second Revert wrote %d more entries", len(n)-len(entries))
	}
}

func TestRevertFromJournalAfterDroppingTheFault(t *testing.T) {
	requireRoot(t)
	ns := newLabNode(t)
	before := netState(t, ns)
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	f := NewNetworkdRestart(ns, nsPath(ns), testDeclared(), j, "run1/"+ns+"/networkd-restart/1")
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	f = nil // the run that injected is gone
	j.Close()
	revertPending(t, path, ns, before)
}

func TestRevertFromJournalAfterSIGKILL(t *testing.T) {
	requireRoot(t)
	ns := newLabNode(t)
	before := netState(t, ns)
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^$")
	cmd.Env = append(os.Environ(), helperEnv+"=inject-then-sigkill", helperJournalEnv+"="+path, helperNetNSEnv+"="+nsPath(ns))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper = %v, want death by SIGKILL: %s", err, out)
	}
	if netState(t, ns) == before {
		t.Fatal("the crashed run did not inject")
	}
	revertPending(t, path, ns, before)
}

// revertPending does what `aftershock cleanup` does: read the journal, and
// revert every pending injection, recording the outcome.
func revertPending(t *testing.T, path, ns, before string) {
	t.Helper()
	entries, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	pending := journal.Pending(entries)
	if len(pending) != 1 || pending[0].Node != ns || pending[0].State != journal.StateInjected {
		t.Fatalf("pending %+v, want the one injection on %s", pending, ns)
	}
	if err := RevertFromJournal(context.Background(), pending[0]); err != nil {
		t.Fatal(err)
	}
	if got := netState(t, ns); got != before {
		t.Fatalf("after RevertFromJournal:\n%s\nwant\n%s", got, before)
	}
	// Cleanup run twice: nothing left to add, and the outcome is journalled.
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	f, err := FromJournal(pending[0], j)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := netState(t, ns); got != before {
		t.Fatalf("after a second revert:\n%s\nwant\n%s", got, before)
	}
	entries, err = journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if p := journal.Pending(entries); len(p) != 0 {
		t.Fatalf("still pending after cleanup: %+v", p)
	}
}

func TestTheCallingThreadNeverChangesNamespace(t *testing.T) {
	requireRoot(t)
	ns := newLabNode(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	threadNS := func() uint64 {
		var st unix.Stat_t
		if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	var host unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &host); err != nil {
		t.Fatal(err)
	}
	hostRules := run(t, "ip", "-d", "rule", "show") + run(t, "ip", "-d", "-6", "rule", "show")
	before := threadNS()
	f := NewNetworkdRestart(ns, nsPath(ns), testDeclared(), nil, "")
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := threadNS(); got != before {
		t.Fatalf("Inject left the calling thread in namespace %d, was %d", got, before)
	}
	if err := f.Revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := threadNS(); got != before || got != host.Ino {
		t.Fatalf("Revert left the calling thread in namespace %d, was %d (host %d)", got, before, host.Ino)
	}
	// No thread of this process is left anywhere else either.
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		var st unix.Stat_t
		if unix.Stat("/proc/self/task/"+task.Name()+"/ns/net", &st) == nil && st.Ino != host.Ino {
			t.Errorf("thread %s is in namespace %d, not the host's %d", task.Name(), st.Ino, host.Ino)
		}
	}
	if got := run(t, "ip", "-d", "rule", "show") + run(t, "ip", "-d", "-6", "rule", "show"); got != hostRules {
		t.Fatalf("the host's rules changed:\n%s\nwas\n%s", got, hostRules)
	}
}

func TestRefusesTheHostNamespace(t *testing.T) {
	requireRoot(t)
	hostRules := run(t, "ip", "-d", "rule", "show") + run(t, "ip", "-d", "-6", "rule", "show")
	for _, path := range []string{"/proc/self/ns/net", "/proc/thread-self/ns/net", fmt.Sprintf("/proc/%d/ns/net", os.Getpid())} {
		// Routes management off and no managed link: even if the
		// refusal failed, only foreign host rules could be at risk.
		f := NewNetworkdRestart("host", path, NetworkdConfig{ManageForeignRoutingPolicyRules: true}, nil, "")
		if err := f.Inject(context.Background()); !errors.Is(err, ErrHostNamespace) {
			t.Fatalf("Inject(%s) = %v, want ErrHostNamespace", path, err)
		}
	}
	if got := run(t, "ip", "-d", "rule", "show") + run(t, "ip", "-d", "-6", "rule", "show"); got != hostRules {
		t.Fatalf("the host's rules changed:\n%s\nwas\n%s", got, hostRules)
	}
}

func TestInjectAllAndRevertAllOnNodes(t *testing.T) {
	requireRoot(t)
	var faults []Fault
	var nodes, before []string
	for range 5 {
		ns := newLabNode(t)
		nodes = append(nodes, ns)
		before = append(before, netState(t, ns))
		faults = append(faults, NewNetworkdRestart(ns, nsPath(ns), testDeclared(), nil, ""))
	}
	missing := nsPrefix + "never-created"
	faults = append(faults, NewNetworkdRestart(missing, nsPath(missing), testDeclared(), nil, ""))

	err := InjectAll(context.Background(), faults, 3)
	if got := FailedTargets(err); !slices.Equal(got, []string{missing}) || !errors.Is(err, ErrTargetGone) {
		t.Fatalf("InjectAll = %v, want only %s to fail, as gone", err, missing)
	}
	for i, ns := range nodes {
		if netState(t, ns) == before[i] {
			t.Errorf("%s was not injected", ns)
		}
	}
	if err := RevertAll(context.Background(), faults, 3); err != nil {
		t.Fatalf("RevertAll = %v", err)
	}
	for i, ns := range nodes {
		if got := netState(t, ns); got != before[i] {
			t.Errorf("%s after RevertAll:\n%s\nwant\n%s", ns, got, before[i])
		}
	}
}
