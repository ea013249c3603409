package fault

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aftershock-sre/aftershock/experiments/journal"
)

// FuzzFromJournal reads a journal the way `aftershock cleanup` does (Read,
// Pending, FromJournal) and builds every netlink message a Revert would send,
// without sending any: no journal, however damaged or hostile, may crash the
// cleanup. Seeds are in testdata/fuzz/FuzzFromJournal; run it with
//
//	go test ./experiments/fault -run '^$' -fuzz '^FuzzFromJournal$' -fuzztime 60s
func FuzzFromJournal(f *testing.F) {
	for _, s := range []string{
		`{"id":"r/n/networkd-restart/1","fault":"networkd-restart","node":"n","netns":"/run/netns/as-r-n","netnsInode":4026532318,"state":"injected","snapshot":{"version":1,"rules":[{"family":"inet","priority":111,"action":1,"table":2004,"protocol":0,"src":"10.9.0.10/32"},{"family":"inet6","priority":5,"action":2,"table":0,"protocol":4,"goto":9,"dport":{"start":1,"end":2},"extra":[{"type":40,"value":"01"}]}],"routes":[{"family":"inet","table":2004,"type":1,"dst":"0.0.0.0/0","gw":"10.9.0.1","link":"eth0","protocol":3,"scope":0,"flags":4}]}}` + "\n",
		`{"id":"x","fault":"networkd-restart","netns":"/run/netns/x","state":"injecting","snapshot":{"version":1,"rules":[{"family":"inet","src":"300.1.2.3/40","iif":"` + "\x00" + `"}],"routes":[{"family":"inet6","dst":"::/129","gw":"zz"}]}}` + "\n",
		`{"id":"x","fault":"networkd-restart","netns":"/run/netns/x","state":"failed","snapshot":{"version":1,"rules":[{"family":"inet","extra":[{"type":65535,"value":"zz"}]}]}}` + "\n",
		`{"id":"x","fault":"networkd-restart","netns":"/run/netns/x","state":"reverting","snapshot":{"version":2}}` + "\n",
		`{"id":"x","fault":"networkd-restart","state":"injected","snapshot":null}` + "\n",
		`{"id":"fleet/r1","fault":"fleet","state":"injected","run":"r1","stateRoot":"/tmp/aftershock","provider":"lab"}` + "\n",
		`{"id":"x","fault":"reboot-the-sun","state":"injected"}` + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "journal.jsonl")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		entries, err := journal.Read(path)
		if err != nil {
			return
		}
		for _, e := range journal.Pending(entries) {
			flt, err := FromJournal(e, nil)
			if err != nil {
				continue
			}
			nr, ok := flt.(*NetworkdRestart)
			if !ok {
				continue // another fault: nothing more to build here
			}
			snap, ok := nr.Snapshot()
			if !ok {
				t.Fatalf("FromJournal(%s) made a fault without a snapshot", e.ID)
			}
			// What Revert would send, built but not sent.
			for _, r := range snap.Rules {
				_, _, _ = encodeRule(r)
				_ = r.key()
				_ = r.String()
			}
			for _, r := range snap.Routes {
				_, _ = r.route(1)
				_ = r.key()
				_ = r.String()
			}
		}
	})
}
