package namespace

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating network namespaces needs root; CI runs this as root")
	}
}

func testNamespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("as-nstest%d-x", os.Getpid())
	ctx := context.Background()
	if err := Add(ctx, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Delete(ctx, name); err != nil {
			t.Error(err)
		}
	})
	h, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	return name
}

// listenIn opens a TCP listener inside the namespace, on a thread that is
// thrown away afterwards.
func listenIn(t *testing.T, name string) net.Listener {
	t.Helper()
	type result struct {
		l   net.Listener
		err error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		ns, err := netns.GetFromPath(Path(name))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			done <- result{err: err}
			return
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		done <- result{l, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.l.Close() })
	go func() {
		for {
			c, err := r.l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("inside"))
			c.Close()
		}
	}()
	return r.l
}

func TestDialerReachesOnlyInsideTheNamespace(t *testing.T) {
	requireRoot(t)
	name := testNamespace(t)
	l := listenIn(t, name)
	addr := l.Addr().String()

	dial := Dialer(Path(name), net.Dialer{Timeout: time.Second})
	conn, err := dial(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s inside %s: %v", addr, name, err)
	}
	buf := make([]byte, 6)
	if _, err := conn.Read(buf); err != nil || string(buf) != "inside" {
		t.Errorf("read %q, %v; want the namespace's listener", buf, err)
	}
	conn.Close()

	// The same address from the host namespace is someone else's loopback.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		b := make([]byte, 6)
		_, _ = c.Read(b)
		c.Close()
		if string(b) == "inside" {
			t.Error("the host namespace reached the listener inside the test namespace")
		}
	}
}

func TestProcessesFindsWhatRunsInTheNamespace(t *testing.T) {
	requireRoot(t)
	name := testNamespace(t)
	cmd := exec.Command("ip", "netns", "exec", name, "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := Processes(Path(name))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(pids, cmd.Process.Pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d not among %v", cmd.Process.Pid, pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
	host, err := Inode("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	ns, err := Inode(Path(name))
	if err != nil {
		t.Fatal(err)
	}
	if host == ns {
		t.Error("the test namespace has the host namespace's inode")
	}
}

func TestDeleteIsIdempotentAndListFilters(t *testing.T) {
	requireRoot(t)
	name := testNamespace(t)
	names, err := List(name)
	if err != nil || !slices.Equal(names, []string{name}) {
		t.Fatalf("List(%q) = %v, %v", name, names, err)
	}
	if err := Delete(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(Path(name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists", Path(name))
	}
	if err := Delete(context.Background(), name); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

// A namespace file that `ip netns add` created but never bound (it was
// killed in between) is still deleted.
func TestDeleteUnboundFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to write /run/netns; CI runs this as root")
	}
	name := fmt.Sprintf("as-test%d-unbound", os.Getpid())
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(Path(name), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := Delete(context.Background(), name); err != nil {
		t.Fatalf("Delete of an unbound namespace file: %v", err)
	}
	if _, err := os.Stat(Path(name)); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", Path(name), err)
	}
}
