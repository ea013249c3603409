package injectcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/aftershock-sre/aftershock/experiments/journal"
)

// run executes `inject args...` in-process and returns stdout, stderr and
// the error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(slog.New(slog.DiscardHandler), &out, &errOut)
	cmd.SetArgs(args)
	cmd.SetOut(&errOut)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage = true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestParseDeclaredRule(t *testing.T) {
	_, ten, _ := net.ParseCIDR("10.0.0.0/8")
	tests := []struct {
		spec    string
		want    func(r netlink.Rule) bool
		wantErr string
	}{
		{spec: "priority=111,table=2004", want: func(r netlink.Rule) bool {
			return r.Priority == 111 && r.Table == 2004 && r.Family == 0 && r.Src == nil
		}},
		{spec: "table=2004", want: func(r netlink.Rule) bool { return r.Priority == -1 && r.Table == 2004 }},
		{spec: "priority=0,from=10.1.2.3/8,family=inet", want: func(r netlink.Rule) bool {
			return r.Priority == 0 && r.Table == 0 && r.Src.String() == ten.String() && r.Family == unix.AF_INET
		}},
		{spec: "to=fd00::/8,family=inet6", want: func(r netlink.Rule) bool { return r.Dst.String() == "fd00::/8" && r.Family == unix.AF_INET6 }},
		{spec: "", wantErr: "empty"},
		{spec: "priority", wantErr: `"priority" is not key=value`},
		{spec: "priority=-1", wantErr: `priority "-1" is not a number`},
		{spec: "table=0", wantErr: `table "0" is not a table number`},
		{spec: "from=10.0.0.1", wantErr: `from "10.0.0.1" is not a CIDR prefix`},
		{spec: "family=ipx", wantErr: `family "ipx"`},
		{spec: "prio=1", wantErr: `unknown key "prio"`},
		{spec: "table=1,table=2", wantErr: "table given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			r, err := ParseDeclaredRule(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.want(r) {
				t.Errorf("got %+v, %v", r, err)
			}
		})
	}
}

func TestNetworkdRestartFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no target", []string{"networkd-restart", "--journal", dir + "/j"}, "at least one of the flags in the group [netns self] is required"},
		{"both targets", []string{"networkd-restart", "--self", "--netns", "/run/netns/x", "--journal", dir + "/j"}, "[netns self] were all set"},
		{"no journal", []string{"networkd-restart", "--netns", "/run/netns/x"}, `required flag(s) "journal" not set`},
		{"relative netns", []string{"networkd-restart", "--netns", "x", "--journal", dir + "/j"}, `--netns "x": want an absolute path`},
		{"relative journal", []string{"networkd-restart", "--netns", "/run/netns/x", "--journal", "j"}, `--journal "j": want an absolute path`},
		{"bad declared rule", []string{"networkd-restart", "--netns", "/run/netns/x", "--journal", dir + "/j", "--declared-rule", "pref=1"}, `unknown key "pref"`},
		{"extra argument", []string{"networkd-restart", "--netns", "/run/netns/x", "--journal", dir + "/j", "now"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(dir + "/j"); err == nil {
		t.Error("a refused command created the journal")
	}
}

func TestRevertNothingPending(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.jsonl")
	out, errOut, err := run(t, "revert", "--journal", missing, "--id", "x")
	if err != nil || out != "" || !strings.Contains(errOut, "nothing to revert") {
		t.Errorf("revert of a missing journal: %v, %q, %q", err, out, errOut)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("revert created the journal")
	}

	path := filepath.Join(dir, "j.jsonl")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{journal.StateInjecting, journal.StateInjected, journal.StateReverting, journal.StateReverted} {
		if err := j.Record(journal.Entry{ID: "done", Fault: "networkd-restart", Node: "n0", NetNS: "/run/netns/x", State: state,
			Snapshot: json.RawMessage(`{"version":1,"rules":[],"routes":[]}`)}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	for _, id := range []string{"done", "never", ""} {
		out, errOut, err := run(t, "revert", "--journal", path, "--id", id)
		if err != nil || out != "" || !strings.Contains(errOut, "nothing to revert") {
			t.Errorf("revert --id %q: %v, %q, %q", id, err, out, errOut)
		}
	}
}

// TestRevertTargetGone reverts an injection whose node's namespace no longer
// exists: as experiments/fault does, that counts as reverted, and is
// journalled.
func TestRevertTargetGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(t.TempDir(), "no-such-netns")
	if err := j.Record(journal.Entry{ID: "r/n0/1", Fault: "networkd-restart", Node: "n0", NetNS: gone, State: journal.StateInjected,
		Snapshot: json.RawMessage(`{"version":1,"rules":[{"family":"inet","priority":111,"action":1,"table":2004,"protocol":0}],"routes":[]}`)}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	out, _, err := run(t, "revert", "--journal", path)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.State != journal.StateReverted || res.ID != "r/n0/1" || res.Rules != 1 {
		t.Errorf("stdout %q: %+v, %v", out, res, err)
	}
	entries, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(journal.Pending(entries)) != 0 || !strings.Contains(entries[len(entries)-1].Error, "target gone") {
		t.Errorf("journal after revert: %+v", entries)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and changes its rules")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip to build and inspect the test namespace")
	}
}

func ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestInjectAndRevertInNamespace runs both commands against a real network
// namespace set up the way the lab's CNI sets a node up.
func TestInjectAndRevertInNamespace(t *testing.T) {
	requireRoot(t)
	name := fmt.Sprintf("as-itest%d-n0", os.Getpid())
	ip(t, "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", name).Run() })
	ip(t, "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0")
	ip(t, "-n", name, "link", "set", "eth0", "up")
	ip(t, "-n", name, "addr", "add", "10.1.0.5/32", "dev", "eth0")
	ip(t, "-n", name, "route", "add", "10.1.0.0/16", "dev", "eth0", "table", "2004", "proto", "static")
	ip(t, "-n", name, "rule", "add", "pref", "111", "lookup", "2004", "proto", "unspec")
	ip(t, "-n", name, "rule", "add", "pref", "20", "to", "10.1.0.0/16", "lookup", "2004", "proto", "boot")
	before := ip(t, "-n", name, "rule", "show")
	routes := ip(t, "-n", name, "route", "show", "table", "2004")

	path := filepath.Join(t.TempDir(), "node", "journal.jsonl")
	netns := "/run/netns/" + name
	out, errOut, err := run(t, "networkd-restart", "--netns", netns, "--journal", path, "--id", "t/n0/1",
		"--manage-foreign-routes=false", "--declared-rule", "priority=20,to=10.1.0.0/16")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var res Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.State != journal.StateInjected || res.Node != name || res.Rules != 1 {
		t.Errorf("stdout %q: %+v, %v", out, res, err)
	}
	after := ip(t, "-n", name, "rule", "show")
	if strings.Contains(after, "111:") || !strings.Contains(after, "20:") {
		t.Errorf("after inject, want rule 111 gone and the declared rule 20 kept:\n%s", after)
	}
	if got := ip(t, "-n", name, "route", "show", "table", "2004"); got != routes {
		t.Errorf("routes changed with --manage-foreign-routes=false:\n%s\nwant\n%s", got, routes)
	}
	// A retry under the same ID must not journal an empty snapshot over
	// the one that restores the node.
	if _, _, err := run(t, "networkd-restart", "--netns", netns, "--journal", path, "--id", "t/n0/1"); err == nil ||
		!strings.Contains(err.Error(), "injection t/n0/1 is already injected") {
		t.Errorf("a second inject under a pending ID: %v", err)
	}

	out, errOut, err = run(t, "revert", "--journal", path, "--id", "t/n0/1")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.State != journal.StateReverted {
		t.Errorf("stdout %q: %+v, %v", out, res, err)
	}
	if got := ip(t, "-n", name, "rule", "show"); got != before {
		t.Errorf("rules after revert:\n%s\nwant\n%s", got, before)
	}
	if out, errOut, err := run(t, "revert", "--journal", path, "--id", "t/n0/1"); err != nil || out != "" || !strings.Contains(errOut, "nothing to revert") {
		t.Errorf("a second revert: %v %q %q", err, out, errOut)
	}
}

// TestSelfIsRefusedHere runs --self from this test process, whose namespace
// is the host's, naming a node that is not this machine: the fault's host
// interlock must refuse it, and --self without --node is refused outright.
// Nothing could be removed even if it were not: rules and routes management
// are both off.
func TestSelfIsRefusedHere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	_, _, err := run(t, "networkd-restart", "--self", "--node", "not-this-machine", "--journal", path,
		"--manage-foreign-routing-policy-rules=false", "--manage-foreign-routes=false")
	if err == nil || !strings.Contains(err.Error(), "refusing to touch the host network namespace") ||
		!strings.Contains(err.Error(), `--node "not-this-machine" is not this machine's host name`) {
		t.Errorf("got %v", err)
	}
	_, _, err = run(t, "networkd-restart", "--self", "--journal", path,
		"--manage-foreign-routing-policy-rules=false", "--manage-foreign-routes=false")
	if err == nil || !strings.Contains(err.Error(), "--self needs --node") {
		t.Errorf("--self without --node: got %v", err)
	}
}
