package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// TestNamespaces runs a 3-replica quorum service and a shard as real
// processes inside node namespaces wired like the lab's (a /32 on eth0, the
// CNI's routing table and policy rules), probes them from a fabric namespace,
// and flushes nodes' policy rules as the networkd fault does.
func TestNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, veths and a bridge")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip on PATH")
	}
	if testing.Short() {
		t.Skip("builds a binary and creates namespaces; skipped with -short")
	}
	bin := buildService(t)
	lab := newTestLab(t, 3)

	const port = 7070
	var peers []string
	for _, n := range lab.nodes {
		peers = append(peers, net.JoinHostPort(n.ip, fmt.Sprint(port)))
	}
	replicaCfg := func(n testNode) Config {
		return Config{Service: "tag-index", Kind: Quorum, Node: n.ns, Address: n.ip, Port: port,
			Peers: peers, Interval: 250 * time.Millisecond, Timeout: 300 * time.Millisecond}
	}
	for _, n := range lab.nodes {
		lab.run(bin, n.ns, replicaCfg(n).Args())
	}
	shard := Config{Service: "metrics-intake", Kind: Sharded, Node: lab.nodes[2].ns, Address: lab.nodes[2].ip, Port: port + 1}
	lab.run(bin, shard.Node, shard.Args())

	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: dialIn(lab.fabricPath(), net.Dialer{Timeout: time.Second}), DisableKeepAlives: true,
	}}
	addr := func(n testNode) string { return net.JoinHostPort(n.ip, fmt.Sprint(port)) }

	for _, n := range lab.nodes {
		r, took := eventually(t, client, addr(n), 10*time.Second, func(r result) bool {
			return serving(r) && r.answer.Members == 3
		})
		want := Answer{Service: "tag-index", Replica: n.ns, Kind: Quorum, Members: 3, Replicas: 3}
		if r.status != http.StatusOK || r.answer != want {
			t.Fatalf("replica on %s from the fabric: got %s after %s, want 200 %+v", n.ns, r, took, want)
		}
	}
	r, _ := eventually(t, client, shard.Addr(), 5*time.Second, serving)
	if !serving(r) || r.answer.Shard != shard.Node {
		t.Fatalf("shard on %s from the fabric: got %s", shard.Node, r)
	}

	// First node loses its rules: it answers nobody, the other two keep quorum.
	lab.flushRules(lab.nodes[0])
	r, took := eventually(t, client, addr(lab.nodes[0]), 5*time.Second, func(r result) bool { return r.err != nil })
	if r.err == nil {
		t.Fatalf("replica on flushed %s still answers: %s", lab.nodes[0].ns, r)
	}
	var nerr net.Error
	if !errors.As(r.err, &nerr) || !nerr.Timeout() {
		t.Errorf("replica on flushed %s: got %v, want a timeout", lab.nodes[0].ns, r.err)
	}
	t.Logf("flushed %s: %v (after %s)", lab.nodes[0].ns, r.err, took.Round(time.Millisecond))
	for _, n := range lab.nodes[1:] {
		r, took := eventually(t, client, addr(n), 3*time.Second, func(r result) bool {
			return !serving(r) || r.answer.Members == 2
		})
		if !serving(r) || r.answer.Members != 2 {
			t.Fatalf("replica on %s with one node flushed: got %s after %s, want 200 with members 2", n.ns, r, took)
		}
	}

	// Second node too: the last replica is alone and refuses.
	lab.flushRules(lab.nodes[1])
	last := lab.nodes[2]
	r, took = eventually(t, client, addr(last), 3*time.Second, noQuorum)
	if !noQuorum(r) || r.answer.Error != "no quorum: reached 1 of 3" {
		t.Fatalf("last replica on %s: got %s after %s, want 503 no quorum: reached 1 of 3", last.ns, r, took)
	}
	t.Logf("last replica on %s lost quorum %s after the second flush", last.ns, took.Round(time.Millisecond))
	if r := query(context.Background(), client, addr(lab.nodes[1])); r.err == nil {
		t.Errorf("replica on flushed %s still answers: %s", lab.nodes[1].ns, r)
	}
	if r := query(context.Background(), client, shard.Addr()); !serving(r) || r.answer.Shard != shard.Node {
		t.Errorf("shard on the unflushed %s: got %s, want 200", shard.Node, r)
	}
}

// buildService builds cmd/aftershock-service into a temporary folder.
func buildService(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "aftershock-service")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/aftershock-sre/aftershock/cmd/aftershock-service")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build aftershock-service: %v\n%s", err, out)
	}
	return bin
}

// testNode is one node namespace of a testLab.
type testNode struct{ ns, ip string }

// testLab is a fabric namespace with a bridge and node namespaces plugged
// into it, wired as the lab wires them. Everything goes in t.Cleanup.
type testLab struct {
	t      *testing.T
	fabric string
	nodes  []testNode
	spawn  chan spawnRequest
	procs  []*exec.Cmd
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

const (
	testTable  = "2004"
	testPrefix = "as-svctest"
)

func newTestLab(t *testing.T, nodes int) *testLab {
	t.Helper()
	prefix := fmt.Sprintf("%s%d-", testPrefix, os.Getpid())
	l := &testLab{t: t, fabric: prefix + "fabric", spawn: make(chan spawnRequest)}
	t.Cleanup(l.teardown)
	l.startSpawner()

	l.ip("netns", "add", l.fabric)
	l.ip("-n", l.fabric, "link", "set", "lo", "up")
	l.ip("-n", l.fabric, "link", "add", "br0", "type", "bridge")
	l.ip("-n", l.fabric, "addr", "add", "10.77.0.1/16", "dev", "br0")
	l.ip("-n", l.fabric, "link", "set", "br0", "up")
	for i := range nodes {
		n := testNode{ns: fmt.Sprintf("%s%d", prefix, i+1), ip: fmt.Sprintf("10.77.0.%d", 11+i)}
		veth := fmt.Sprintf("svt%d-%d", os.Getpid()%1000000, i+1)
		l.ip("netns", "add", n.ns)
		l.nodes = append(l.nodes, n)
		l.ip("-n", n.ns, "link", "set", "lo", "up")
		l.ip("-n", l.fabric, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", n.ns)
		l.ip("-n", l.fabric, "link", "set", veth, "master", "br0")
		l.ip("-n", l.fabric, "link", "set", veth, "up")
		l.ip("-n", n.ns, "link", "set", "eth0", "up")
		l.ip("-n", n.ns, "addr", "add", n.ip+"/32", "dev", "eth0")
		l.ip("-n", n.ns, "route", "add", "10.77.0.0/16", "dev", "eth0", "scope", "link", "table", testTable)
		l.ip("-n", n.ns, "rule", "add", "pref", "100", "lookup", "local")
		l.ip("-n", n.ns, "rule", "del", "pref", "0", "lookup", "local")
		l.ip("-n", n.ns, "rule", "add", "pref", "20", "to", n.ip, "lookup", "main")
		l.ip("-n", n.ns, "rule", "add", "pref", "111", "from", n.ip, "lookup", testTable)
	}
	return l
}

// ip runs one ip(8) command and fails the test if it fails.
func (l *testLab) ip(args ...string) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
}

func (l *testLab) fabricPath() string { return filepath.Join("/run/netns", l.fabric) }

// flushRules deletes the node's CNI policy rules, as the networkd fault does:
// the node then reaches nothing, not even itself.
func (l *testLab) flushRules(n testNode) {
	l.t.Helper()
	for _, pref := range []string{"111", "100", "20"} {
		l.ip("-n", n.ns, "rule", "del", "pref", pref)
	}
}

// startSpawner forks the services from one locked OS thread that lives until
// teardown, so that Pdeathsig means "when the test process dies" and not
// "when whichever thread forked it exits" (dialIn discards threads).
func (l *testLab) startSpawner() {
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread dies with the spawner.
		close(ready)
		for r := range l.spawn {
			r.done <- r.cmd.Start()
		}
	}()
	<-ready
}

// run starts bin with args inside namespace ns, through ip netns exec.
func (l *testLab) run(bin, ns string, args []string) {
	l.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	cmd.Stdout = testWriter{l.t, ns}
	cmd.Stderr = testWriter{l.t, ns}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	done := make(chan error, 1)
	l.spawn <- spawnRequest{cmd: cmd, done: done}
	if err := <-done; err != nil {
		l.t.Fatalf("start %s in %s: %v", filepath.Base(bin), ns, err)
	}
	l.procs = append(l.procs, cmd)
}

// teardown stops the processes and deletes every namespace, carrying on past
// failures, then checks that none of this test's namespaces is left.
func (l *testLab) teardown() {
	for _, cmd := range l.procs {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, cmd := range l.procs {
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	close(l.spawn)
	for _, ns := range append([]string{l.fabric}, nodeNames(l.nodes)...) {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil &&
			!strings.Contains(string(out), "No such file") {
			l.t.Errorf("delete namespace %s: %v: %s", ns, err, strings.TrimSpace(string(out)))
		}
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		l.t.Errorf("ip netns list: %v", err)
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, fmt.Sprintf("%s%d-", testPrefix, os.Getpid())) {
			l.t.Errorf("namespace left after teardown: %s", line)
		}
	}
}

func nodeNames(nodes []testNode) []string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.ns
	}
	return names
}

// testWriter sends a process's output to the test log.
type testWriter struct {
	t  *testing.T
	ns string
}

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s: %s", w.ns, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// dialIn returns a DialContext whose sockets are created inside the
// namespace at path. Each dial runs on a goroutine locked to its own OS
// thread, which joins the namespace and exits still locked, so the runtime
// discards the thread instead of reusing it in the wrong namespace.
func dialIn(path string, base net.Dialer) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		type dialed struct {
			conn net.Conn
			err  error
		}
		done := make(chan dialed, 1)
		go func() {
			runtime.LockOSThread()
			// No UnlockOSThread: the thread dies with this goroutine.
			ns, err := netns.GetFromPath(path)
			if err != nil {
				done <- dialed{err: fmt.Errorf("open network namespace %s: %w", path, err)}
				return
			}
			defer ns.Close()
			if err := netns.Set(ns); err != nil {
				done <- dialed{err: fmt.Errorf("enter network namespace %s: %w", path, err)}
				return
			}
			conn, err := base.DialContext(ctx, network, address)
			done <- dialed{conn: conn, err: err}
		}()
		d := <-done
		return d.conn, d.err
	}
}
