package namespace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
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
