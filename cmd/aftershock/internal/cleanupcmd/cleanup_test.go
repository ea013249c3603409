package cleanupcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments/fault"
	"github.com/aftershock-sre/aftershock/experiments/journal"
)

func TestLabRunOf(t *testing.T) {
	tests := []struct{ netns, want string }{
		{"/run/netns/as-ab12cd-eu1-parent-cp0", "ab12cd"},
		{"/run/netns/as-r1-n3", "r1"},
		{"/run/netns/as-ab12cd-fabric", "ab12cd"},
		{"/run/netns/as-ab12cd", ""},   // no node
		{"/run/netns/as--n1", ""},      // no run
		{"/run/netns/other-r1-n3", ""}, // not a lab's
		{"/proc/4242/ns/net", ""},      // a kind node
		{"/tmp/run/netns/as-r1-n3", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := labRunOf(tt.netns); got != tt.want {
			t.Errorf("labRunOf(%q) = %q, want %q", tt.netns, got, tt.want)
		}
	}
}

func TestLabsNamed(t *testing.T) {
	entries := []journal.Entry{
		{ID: "fleet/f1", Fault: journal.FleetFault, State: journal.StateInjected, Run: "f1", StateRoot: "/s1", Provider: "lab"},
		{ID: "x/1", Fault: fault.NetworkdRestartName, NetNS: "/run/netns/as-f1-n1", State: journal.StateInjected},
		{ID: "x/2", Fault: fault.NetworkdRestartName, NetNS: "/run/netns/as-d2-n1", State: journal.StateReverted},
		{ID: "k/1", Fault: journal.FleetFault, State: journal.StateInjected, Run: "k1", Provider: "kind"},
	}
	got := labsNamed(entries, "/default")
	want := []labRef{{run: "f1", root: "/s1"}, {run: "d2", root: "/default"}}
	if len(got) != len(want) {
		t.Fatalf("labsNamed = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].run != want[i].run || got[i].root != want[i].root {
			t.Errorf("lab %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// fixture is a crashed run's leftovers without root: a journal naming a lab
// folder, with an injection into a node namespace that no longer exists.
type fixture struct {
	dir, stateRoot, run, journal string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	fx := fixture{
		dir:       dir,
		stateRoot: filepath.Join(dir, "state"),
		run:       fmt.Sprintf("ct%d", time.Now().UnixNano()%1e9),
		journal:   filepath.Join(dir, "report", "scenario-1.jsonl"),
	}
	if err := os.MkdirAll(filepath.Join(fx.stateRoot, fx.run), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fx.stateRoot, fx.run, "state.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(fx.journal), 0o755); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(fx.journal)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	snap := json.RawMessage(`{"version":1,"rules":[{"family":"inet","priority":111,"action":1,"table":2004,"protocol":0,"src":"10.1.0.10/32"}],"routes":[]}`)
	for _, e := range []journal.Entry{
		{ID: "fleet/" + fx.run, Fault: journal.FleetFault, State: journal.StateInjected, Run: fx.run, StateRoot: fx.stateRoot, Provider: "lab"},
		{ID: "n1/networkd-restart/1", Fault: fault.NetworkdRestartName, Node: "eu1-parent-w0",
			NetNS: "/run/netns/as-" + fx.run + "-eu1-parent-w0", State: journal.StateInjecting, Snapshot: snap},
		{ID: "n1/networkd-restart/1", Fault: fault.NetworkdRestartName, Node: "eu1-parent-w0",
			NetNS: "/run/netns/as-" + fx.run + "-eu1-parent-w0", State: journal.StateInjected},
	} {
		if err := j.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	return fx
}

func cleanup(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := NewCommand(slog.New(slog.DiscardHandler), &out, &out)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// A node whose namespace is gone does not fail the cleanup: the output and
// the journal say so, and the lab the journal names is torn down after.
func TestCleanupOfAGoneNode(t *testing.T) {
	fx := newFixture(t)
	out, err := cleanup(t, "--journal", filepath.Dir(fx.journal), "--state-root", fx.stateRoot)
	if err != nil {
		t.Fatalf("cleanup: %v\n%s", err, out)
	}
	for _, want := range []string{
		"1 injection(s) pending",
		"networkd-restart on eu1-parent-w0: node gone",
		"lab " + fx.run + " torn down",
		"1 injection(s) reverted, 1 fleet(s) torn down",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "node gone") > strings.Index(out, "torn down") {
		t.Errorf("the lab was torn down before the fault was reverted:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(fx.stateRoot, fx.run)); !os.IsNotExist(err) {
		t.Errorf("lab folder left: %v", err)
	}
	entries, err := journal.Read(fx.journal)
	if err != nil {
		t.Fatal(err)
	}
	if p := journal.Pending(entries); len(p) != 0 {
		t.Errorf("still pending after cleanup: %+v", p)
	}
	last := map[string]journal.Entry{}
	for _, e := range entries {
		last[e.ID] = e
	}
	if e := last["n1/networkd-restart/1"]; !strings.HasPrefix(e.Error, "target gone") {
		t.Errorf("the journal does not say the node was gone: %+v", e)
	}
	// Like rm -f: a second cleanup finds nothing to do and succeeds.
	out, err = cleanup(t, "--journal", fx.journal, "--state-root", fx.stateRoot)
	if err != nil || !strings.Contains(out, "0 injection(s) pending") {
		t.Errorf("second cleanup: %v\n%s", err, out)
	}
}

// A journal that a running aftershock holds belongs to a live run: cleanup
// touches neither its faults nor its lab.
func TestCleanupLeavesALiveRunAlone(t *testing.T) {
	fx := newFixture(t)
	j, err := journal.Open(fx.journal) // the live run
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	out, err := cleanup(t, "--journal", fx.journal, "--state-root", fx.stateRoot)
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("cleanup of a live run's journal = %v, want an in-use error\n%s", err, out)
	}
	if !strings.Contains(out, "left running") {
		t.Errorf("output does not say the lab was left running:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(fx.stateRoot, fx.run)); err != nil {
		t.Errorf("a live run's lab folder was removed: %v", err)
	}
	entries, _ := journal.Read(fx.journal)
	if len(journal.Pending(entries)) != 2 {
		t.Errorf("a live run's journal changed: %+v", entries)
	}
}

func TestCleanupBadInvocations(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.jsonl")
	if err := os.WriteFile(garbage, []byte("not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" means success
		wantOut string
	}{
		{"neither flag", nil, "give --journal PATH", ""},
		{"both flags", []string{"--all", "--journal", garbage}, "not both", ""},
		{"missing journal", []string{"--journal", filepath.Join(dir, "nope.jsonl")}, "nope.jsonl", ""},
		{"not a journal", []string{"--journal", garbage}, garbage + " line 1", ""},
		{"a folder without journals", []string{"--journal", empty, "--state-root", dir}, "", "no journal (*.jsonl) in this folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := cleanup(t, tt.args...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("cleanup %v: %v\n%s", tt.args, err, out)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("cleanup %v = %v, want an error containing %q\n%s", tt.args, err, tt.wantErr, out)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("output lacks %q:\n%s", tt.wantOut, out)
			}
		})
	}
}

// --all looks for journals in the reports folder and under the state root,
// at any depth, and not elsewhere. (Only the search is tested here: --all
// also tears down every lab on the machine, other tests' included.)
func TestFindJournalsForAll(t *testing.T) {
	dir := t.TempDir()
	want := []string{
		filepath.Join(dir, "reports", "a1", "scenario-1.jsonl"),
		filepath.Join(dir, "reports", "a1", "scenario-2.jsonl"),
		filepath.Join(dir, "state", "r1", "journal.jsonl"),
	}
	for _, p := range append(want, filepath.Join(dir, "reports", "a1", "journal.json"), filepath.Join(dir, "elsewhere", "x.jsonl")) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := &cleaner{out: &bytes.Buffer{}, stateRoot: filepath.Join(dir, "state")}
	got, err := c.findJournals(&flagpole{all: true, reports: filepath.Join(dir, "reports")})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("journals found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c.stateRoot = filepath.Join(dir, "missing")
	if got, err := c.findJournals(&flagpole{all: true, reports: filepath.Join(dir, "missing-too")}); err != nil || len(got) != 0 {
		t.Fatalf("findJournals in missing folders = %v, %v; want nothing and no error", got, err)
	}
}

// An injection on a node reached through its exec channel (a Terraform
// fleet) is reverted by the command the run journalled for it; a command
// that fails is reported, journalled as failed, and stays pending.
func TestCleanupRunsTheJournalledRemoteRevert(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "restored")
	path := filepath.Join(dir, "scenario-1.jsonl")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	remote := func(argv ...string) json.RawMessage {
		b, err := json.Marshal(map[string]any{"version": 1, "remote": map[string]any{"revert": argv}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, e := range []journal.Entry{
		{ID: "ip-10-1-0-7/networkd-restart/1", Fault: fault.NetworkdRestartName, Node: "ip-10-1-0-7", State: journal.StateInjected,
			Snapshot: remote("/bin/sh", "-c", "echo ok > "+marker)},
		{ID: "ip-10-1-0-8/networkd-restart/2", Fault: fault.NetworkdRestartName, Node: "ip-10-1-0-8", State: journal.StateInjected,
			Snapshot: remote("/bin/sh", "-c", "echo node unreachable >&2; exit 3")},
	} {
		if err := j.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	out, err := cleanup(t, "--journal", path, "--state-root", filepath.Join(dir, "state"))
	if err == nil || !strings.Contains(err.Error(), "node unreachable") {
		t.Fatalf("cleanup = %v, want the failed remote revert with its output\n%s", err, out)
	}
	for _, want := range []string{
		"reverted networkd-restart on ip-10-1-0-7 through its exec channel: /bin/sh -c echo ok > " + marker,
		"FAILED to revert networkd-restart on ip-10-1-0-8 through its exec channel",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the revert command did not run: %v", err)
	}
	entries, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	p := journal.Pending(entries)
	if len(p) != 1 || p[0].Node != "ip-10-1-0-8" || p[0].State != journal.StateFailed || len(remoteRevert(p[0])) == 0 {
		t.Fatalf("pending after cleanup: %+v, want only ip-10-1-0-8, failed, still with its revert command", p)
	}
}
