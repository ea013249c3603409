package journal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fleet fields are optional: journals written before them read as
// before, and an entry carrying them reads back with them.
func TestFleetFieldsAreOptionalAndRoundTrip(t *testing.T) {
	old := `{"time":"2023-03-08T06:12:31.5Z","id":"r1/n3/networkd-restart/1","fault":"networkd-restart","node":"n3","netns":"/run/netns/as-r1-n3","state":"injected"}` + "\n"
	path := filepath.Join(t.TempDir(), "j")
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fleet := Entry{ID: "fleet/r1", Fault: FleetFault, State: StateInjected, Run: "r1", StateRoot: "/tmp/aftershock", Provider: "lab"}
	inj := entry("r1/n4/networkd-restart/2", StateInjecting)
	inj.NetNSInode = 4026532000
	for _, e := range []Entry{fleet, inj} {
		if err := j.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), old) {
		t.Fatalf("the old line was rewritten:\n%s", data)
	}
	if strings.Count(string(data), `"run"`) != 1 || strings.Count(string(data), `"netnsInode"`) != 1 {
		t.Errorf("empty fields are not omitted:\n%s", data)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("read %d entries, want 3", len(got))
	}
	if got[0].Run != "" || got[0].NetNSInode != 0 {
		t.Errorf("old entry read with fleet fields: %+v", got[0])
	}
	if g := got[1]; g.Fault != FleetFault || g.Run != "r1" || g.StateRoot != "/tmp/aftershock" || g.Provider != "lab" {
		t.Errorf("fleet entry read back as %+v", g)
	}
	if got[2].NetNSInode != 4026532000 {
		t.Errorf("inode read back as %d", got[2].NetNSInode)
	}
}

// A fleet entry is pending until the fleet is torn down, like an injection.
func TestPendingFleet(t *testing.T) {
	up := Entry{ID: "fleet/r1", Fault: FleetFault, State: StateInjected, Run: "r1", StateRoot: "/s", Provider: "lab"}
	down := up
	down.State, down.Run, down.StateRoot, down.Provider = StateReverted, "", "", ""
	tests := []struct {
		name    string
		entries []Entry
		want    int
	}{
		{"up", []Entry{up}, 1},
		{"up then down", []Entry{up, down}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Pending(tt.entries)
			if len(p) != tt.want {
				t.Fatalf("Pending = %+v, want %d entries", p, tt.want)
			}
			if tt.want == 1 && (p[0].Run != "r1" || p[0].StateRoot != "/s") {
				t.Errorf("pending fleet lost its name: %+v", p[0])
			}
		})
	}
}
