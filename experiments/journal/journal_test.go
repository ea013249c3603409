package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func entry(id, state string) Entry {
	return Entry{
		Time:  time.Date(2023, 3, 8, 6, 12, 0, 0, time.UTC),
		ID:    id,
		Fault: "networkd-restart",
		Node:  "as-r1-us1-n3",
		NetNS: "/run/netns/as-r1-us1-n3",
		State: state,
	}
}

func line(t testing.TB, e Entry) string {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func openTemp(t *testing.T) (*Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, path
}

func TestRecordThenRead(t *testing.T) {
	j, path := openTemp(t)
	injecting := entry("r1/n3/networkd-restart/1", StateInjecting)
	injecting.Snapshot = json.RawMessage(`{"rules":[{"priority":111,"table":2004}]}`)
	failed := entry("r1/n3/networkd-restart/1", StateFailed)
	failed.Error = "delete rule 111: no such file or directory"
	want := []Entry{injecting, failed}
	for _, e := range want {
		if err := j.Record(e); err != nil {
			t.Fatal(err)
		}
		// Record returned: the line is in the file, complete, for any reader.
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(string(data), line(t, e)) {
			t.Fatalf("after Record the file ends with %q, want the line for %s", data, e.State)
		}
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if line(t, got[i]) != line(t, want[i]) {
			t.Errorf("entry %d = %s, want %s", i, line(t, got[i]), line(t, want[i]))
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("journal mode %o, want 600", mode)
	}
}

func TestRecordFillsTimeAndValidates(t *testing.T) {
	j, path := openTemp(t)
	e := entry("id-1", StateInjected)
	e.Time = time.Time{}
	before := time.Now()
	if err := j.Record(e); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Time.Before(before.Add(-time.Second)) {
		t.Fatalf("Record did not fill in the time: %+v", got)
	}
	for _, bad := range []Entry{
		{Fault: "f", State: StateInjected},
		{ID: "x", State: StateInjected},
		{ID: "x", Fault: "f", State: "exploded"},
	} {
		if err := j.Record(bad); err == nil {
			t.Errorf("Record(%+v) succeeded, want an error", bad)
		}
	}
	if got, _ := Read(path); len(got) != 1 {
		t.Errorf("invalid entries reached the file: %d entries", len(got))
	}
}

func TestRecordAfterClose(t *testing.T) {
	j, _ := openTemp(t)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Record(entry("x", StateInjected)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Record after Close = %v, want ErrClosed", err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestOpenIsExclusive(t *testing.T) {
	j, path := openTemp(t)
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open = %v, want an in-use error", err)
	}
	j.Close()
	j2, err := Open(path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	j2.Close()
}

func TestConcurrentRecord(t *testing.T) {
	j, path := openTemp(t)
	const writers, each = 16, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e := entry(fmt.Sprintf("w%d/%d", w, i), StateInjecting)
				e.Snapshot = json.RawMessage(fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", 100*w)))
				if err := j.Record(e); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range got {
		seen[e.ID] = true
	}
	if len(got) != writers*each || len(seen) != writers*each {
		t.Fatalf("read %d entries (%d distinct), want %d", len(got), len(seen), writers*each)
	}
}

func TestRead(t *testing.T) {
	a, b := entry("a", StateInjecting), entry("a", StateInjected)
	tests := []struct {
		name     string
		data     string
		wantIDs  int
		wantLine int // >0: a *LineError on this line
	}{
		{name: "empty file", data: "", wantIDs: 0},
		{name: "two lines", data: line(t, a) + line(t, b), wantIDs: 2},
		{name: "truncated last line is ignored", data: line(t, a) + line(t, b)[:20], wantIDs: 1},
		{name: "valid unterminated last line is kept", data: line(t, a) + strings.TrimSuffix(line(t, b), "\n"), wantIDs: 2},
		{name: "blank lines are skipped", data: "\n" + line(t, a) + "  \n" + line(t, b), wantIDs: 2},
		{name: "malformed middle line", data: line(t, a) + "{\"id\":\n" + line(t, b), wantLine: 2},
		{name: "malformed terminated last line", data: line(t, a) + "not json\n", wantLine: 2},
		{name: "valid JSON, unknown state", data: line(t, a) + `{"id":"a","fault":"f","state":"exploded"}` + "\n", wantLine: 2},
		{name: "valid JSON, no id", data: `{"fault":"f","state":"injected"}` + "\n", wantLine: 1},
		{name: "not an object", data: "[1,2]\n" + line(t, a), wantLine: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j")
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := Read(path)
			if tt.wantLine > 0 {
				var le *LineError
				if !errors.As(err, &le) || le.Line != tt.wantLine {
					t.Fatalf("Read = %v, want a LineError on line %d", err, tt.wantLine)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("line %d", tt.wantLine)) {
					t.Fatalf("error %q does not name line %d", err, tt.wantLine)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantIDs {
				t.Fatalf("read %d entries, want %d", len(got), tt.wantIDs)
			}
		})
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Read of a missing file succeeded")
	}
}

func TestOpenRepairsTornTail(t *testing.T) {
	a, b, c := entry("a", StateInjecting), entry("a", StateInjected), entry("b", StateInjecting)
	tests := []struct {
		name string
		data string
		want []string // states read back after Open + Record(c)
	}{
		{name: "torn line is cut", data: line(t, a) + line(t, b)[:17], want: []string{"a/injecting", "b/injecting"}},
		{name: "torn first line is cut", data: line(t, a)[:5], want: []string{"b/injecting"}},
		{name: "valid unterminated line is kept", data: line(t, a) + strings.TrimSuffix(line(t, b), "\n"), want: []string{"a/injecting", "a/injected", "b/injecting"}},
		{name: "long torn line is cut", data: line(t, a) + `{"id":"` + strings.Repeat("y", 10000), want: []string{"a/injecting", "b/injecting"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j")
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if err := j.Record(c); err != nil {
				t.Fatal(err)
			}
			got, err := Read(path)
			if err != nil {
				t.Fatalf("Read after repair: %v", err)
			}
			var states []string
			for _, e := range got {
				states = append(states, e.ID+"/"+e.State)
			}
			if strings.Join(states, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("entries %v, want %v", states, tt.want)
			}
		})
	}
}

func TestPending(t *testing.T) {
	snap := json.RawMessage(`{"rules":[]}`)
	with := func(e Entry) Entry { e.Snapshot = snap; return e }
	tests := []struct {
		name    string
		entries []Entry
		want    []string // "id/state", snapshot always expected
	}{
		{name: "none", entries: nil, want: nil},
		{name: "injecting is pending", entries: []Entry{with(entry("a", StateInjecting))}, want: []string{"a/injecting"}},
		{name: "injected is pending", entries: []Entry{with(entry("a", StateInjecting)), entry("a", StateInjected)}, want: []string{"a/injected"}},
		{name: "reverted is done", entries: []Entry{with(entry("a", StateInjecting)), entry("a", StateInjected), entry("a", StateReverting), entry("a", StateReverted)}, want: nil},
		{name: "crash while reverting is pending", entries: []Entry{with(entry("a", StateInjecting)), entry("a", StateInjected), entry("a", StateReverting)}, want: []string{"a/reverting"}},
		{name: "failed is pending", entries: []Entry{with(entry("a", StateInjecting)), entry("a", StateFailed)}, want: []string{"a/failed"}},
		{name: "re-injected after revert", entries: []Entry{with(entry("a", StateInjecting)), entry("a", StateReverted), with(entry("a", StateInjecting))}, want: []string{"a/injecting"}},
		{
			name: "several injections keep first-seen order",
			entries: []Entry{
				with(entry("b", StateInjecting)), with(entry("a", StateInjecting)), with(entry("c", StateInjecting)),
				entry("a", StateInjected), entry("c", StateReverted), entry("b", StateInjected),
			},
			want: []string{"b/injected", "a/injected"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Pending(tt.entries)
			var states []string
			for _, e := range got {
				states = append(states, e.ID+"/"+e.State)
				if !bytes.Equal(e.Snapshot, snap) {
					t.Errorf("%s: snapshot %q, want it carried forward", e.ID, e.Snapshot)
				}
			}
			if strings.Join(states, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("Pending = %v, want %v", states, tt.want)
			}
		})
	}
}

// FuzzRead checks that Read never panics on any file, and that whatever it
// accepts survives the round trip through Record's encoding and Read.
func FuzzRead(f *testing.F) {
	a := entry("r1/n3/networkd-restart/1", StateInjecting)
	a.Snapshot = json.RawMessage(`{"rules":[{"family":"inet","priority":111,"table":2004}]}`)
	b := entry("r1/n3/networkd-restart/1", StateReverted)
	b.Error = "target gone: /run/netns/as-r1-us1-n3"
	full := line(f, a) + line(f, b)
	for _, seed := range []string{
		"",
		"\n",
		full,
		full[:len(full)-7],
		line(f, a) + "garbage\n" + line(f, b),
		`{"id":"x","fault":"f","state":"injected","snapshot":null}` + "\n",
		`{"id":"x","fault":"f","state":"injected","time":"0001-01-01T00:00:00Z","snapshot": [1, 2 ]}`,
		`{"id":"\u00e9\ud800","fault":"<&>","state":"failed","error":"\n"}` + "\r\n",
		"{}\n{}",
		"[]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		src := filepath.Join(dir, "in")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		entries, err := Read(src)
		_ = Pending(entries)
		if err != nil {
			return
		}
		// Whatever Read accepts, Record must write back unchanged (apart
		// from stamping a missing time).
		var out []byte
		for _, e := range entries {
			if e.Time.IsZero() {
				e.Time = time.Unix(1, 0).UTC()
			}
			l, err := encodeLine(e)
			if err != nil {
				t.Fatalf("Read accepted %+v but Record refuses it: %v", e, err)
			}
			out = append(out, l...)
		}
		again, err := decode("round-trip", out)
		if err != nil {
			t.Fatalf("re-reading what Record would write: %v", err)
		}
		if len(again) != len(entries) {
			t.Fatalf("round trip: %d entries, then %d", len(entries), len(again))
		}
		for i := range entries {
			if entries[i].Time.IsZero() {
				again[i].Time = time.Time{}
			}
			if x, y := line(t, entries[i]), line(t, again[i]); x != y {
				t.Fatalf("round trip changed entry %d: %s became %s", i, x, y)
			}
		}
	})
}
