package fault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/aftershock-sre/aftershock/experiments/journal"
)

// hostRules is the host's rules as iproute2 prints them.
func hostRules(t *testing.T) string {
	t.Helper()
	return run(t, "ip", "-d", "rule", "show") + run(t, "ip", "-d", "-6", "rule", "show")
}

// attachHost names the host's own network namespace like a lab node,
// /run/netns/<prefix>host-N, as a mistaken provider might hand it out: the
// path says nothing, only the inode gives it away. `ip netns delete` of it
// only removes the name.
func attachHost(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("%shost%d", nsPrefix, nsCounter.Add(1))
	run(t, "ip", "netns", "attach", name, strconv.Itoa(os.Getpid()))
	t.Cleanup(func() { run(t, "ip", "netns", "delete", name) })
	return name
}

// replaceNamespace makes the path of namespace old lead to namespace repl,
// as when a node is replaced under the same name: old is deleted and its
// name bound to repl. repl exists throughout, so the two inodes differ.
func replaceNamespace(t *testing.T, old, repl string) {
	t.Helper()
	run(t, "ip", "netns", "delete", old)
	path := nsPath(old)
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(nsPath(repl), path, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s to %s: %v", repl, path, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(path, unix.MNT_DETACH); _ = os.Remove(path) })
}

func TestInterlockAllow(t *testing.T) {
	requireRoot(t)
	node := newLabNode(t)
	host := attachHost(t)
	notNS := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notNS, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       error  // nil: admitted
		wantMsg    string // else part of the message
	}{
		{"a node's namespace", nsPath(node), nil, ""},
		{"the host's namespace by its /proc name", "/proc/self/ns/net", ErrHostNamespace, ""},
		{"the calling thread's namespace", "/proc/thread-self/ns/net", ErrHostNamespace, ""},
		{"the host's namespace under a node-like name", nsPath(host), ErrHostNamespace, ""},
		{"a namespace that does not exist", nsPath(nsPrefix + "never"), ErrTargetGone, ""},
		{"a file that is no namespace", notNS, nil, "namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			il := NewInterlock()
			err := il.Allow(tt.path)
			switch {
			case tt.want == nil && tt.wantMsg == "":
				if err != nil {
					t.Fatalf("Allow(%s) = %v", tt.path, err)
				}
				if got := il.Admitted(); len(got) != 1 || got[0] != tt.path {
					t.Fatalf("Admitted = %v, want [%s]", got, tt.path)
				}
			case tt.want != nil:
				if !errors.Is(err, tt.want) {
					t.Fatalf("Allow(%s) = %v, want %v", tt.path, err, tt.want)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("Allow(%s) = %v, want an error about %q", tt.path, err, tt.wantMsg)
				}
			}
			if err != nil && len(il.Admitted()) != 0 {
				t.Fatalf("a refused namespace was admitted: %v", il.Admitted())
			}
		})
	}
}

// A fault with an Interlock touches only the namespaces the run was given:
// not another run's node, not a node replaced under an admitted name, and
// never the host's, even when the host's namespace hides behind a node-like
// name. Each refusal leaves the target exactly as it was.
func TestInterlockRefusesWhatTheRunWasNotGiven(t *testing.T) {
	requireRoot(t)
	mine, other := newLabNode(t), newLabNode(t)
	replaced, replacement := newLabNode(t), newLabNode(t)
	host := attachHost(t)
	il := NewInterlock()
	for _, ns := range []string{mine, replaced} {
		if err := il.Allow(nsPath(ns)); err != nil {
			t.Fatal(err)
		}
	}
	replaceNamespace(t, replaced, replacement) // after it was admitted
	hostBefore := hostRules(t)

	refused := []struct {
		name, ns string
		want     error
	}{
		{"another run's node", other, ErrNotThisRun},
		{"a node replaced under an admitted name", replaced, ErrNotThisRun},
		{"the host under a node-like name", host, ErrHostNamespace},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			var before string
			if tt.ns != host {
				before = netState(t, tt.ns)
			}
			f := NewNetworkdRestart(tt.ns, nsPath(tt.ns), DefaultNetworkdConfig(), nil, "")
			f.Interlock = il
			err := f.Inject(context.Background())
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), nsPath(tt.ns)) {
				t.Fatalf("Inject = %v, want %v naming %s", err, tt.want, nsPath(tt.ns))
			}
			if _, ok := f.Snapshot(); ok {
				t.Error("a refused fault took a snapshot")
			}
			if tt.ns != host {
				if got := netState(t, tt.ns); got != before {
					t.Errorf("a refused namespace changed:\n%s\nwas\n%s", got, before)
				}
			}
		})
	}
	if got := hostRules(t); got != hostBefore {
		t.Fatalf("the host's rules changed:\n%s\nwas\n%s", got, hostBefore)
	}

	t.Run("an admitted node", func(t *testing.T) {
		before := netState(t, mine)
		f := NewNetworkdRestart(mine, nsPath(mine), DefaultNetworkdConfig(), nil, "")
		f.Interlock = il
		if err := f.Inject(context.Background()); err != nil {
			t.Fatal(err)
		}
		if netState(t, mine) == before {
			t.Fatal("Inject changed nothing on an admitted node")
		}
		if err := f.Revert(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := netState(t, mine); got != before {
			t.Fatalf("after Revert:\n%s\nwant\n%s", got, before)
		}
	})
}

// A node replaced under the same name after the fault was injected: the
// revert from the journal (aftershock cleanup) touches nothing on the new
// node, succeeds, and the journal says what happened.
func TestRevertFromJournalOfAReplacedNode(t *testing.T) {
	requireRoot(t)
	ns, replacement := newLabNode(t), newLabNode(t)
	// The replacement booted without one of the CNI's rules: a revert
	// aimed at the wrong namespace would add it.
	run(t, "ip", "-n", replacement, "rule", "del", "pref", "111")
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	f := NewNetworkdRestart(ns, nsPath(ns), testDeclared(), j, "run1/"+ns+"/networkd-restart/1")
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	j.Close()
	replaceNamespace(t, ns, replacement)
	before := netState(t, replacement)

	entries, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	pending := journal.Pending(entries)
	if len(pending) != 1 || pending[0].NetNSInode == 0 {
		t.Fatalf("pending %+v, want one injection with its namespace's inode", pending)
	}
	j, err = journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	g, err := FromJournal(pending[0], j)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Revert(context.Background()); err != nil {
		t.Fatalf("Revert of a replaced node = %v, want success", err)
	}
	if got := netState(t, replacement); got != before {
		t.Fatalf("the replacement node changed:\n%s\nwas\n%s", got, before)
	}
	entries, err = journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if last.State != journal.StateReverted || !strings.HasPrefix(last.Error, "target replaced: "+nsPath(ns)) {
		t.Fatalf("last journal entry %+v, want reverted with \"target replaced: %s …\"", last, nsPath(ns))
	}
	if p := journal.Pending(entries); len(p) != 0 {
		t.Fatalf("still pending: %+v", p)
	}
}
