package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aftershock-sre/aftershock/experiments"
)

func TestJournalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.json")
	want := fixtureJournal()
	if err := WriteJournal(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("round trip changed the journal:\n got %.400s\nwant %.400s", g, w)
	}
	// The journal alone re-renders the same reports.
	for name, render := range map[string]func(Journal) ([]byte, error){"markdown": RenderMarkdown, "html": RenderHTML} {
		a, errA := render(want)
		b, errB := render(got)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s from the read journal differs from the original's (errors %v, %v)", name, errA, errB)
		}
	}
	// Nothing but the journal is left in the folder: the temp file was
	// renamed.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "journal.json" {
		t.Errorf("folder holds %v, want only journal.json", entries)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"Schema": "aftershock.journal/v1"`)) {
		t.Errorf("journal does not start with its schema:\n%.200s", data)
	}
}

func TestWriteJournal(t *testing.T) {
	dir := t.TempDir()
	t.Run("an empty schema is written as v1", func(t *testing.T) {
		path := filepath.Join(dir, "empty-schema.json")
		if err := WriteJournal(path, Journal{RunID: "r"}); err != nil {
			t.Fatal(err)
		}
		j, err := ReadJournal(path)
		if err != nil || j.Schema != SchemaV1 || j.RunID != "r" {
			t.Errorf("got %+v, %v; want schema %s and run r", j, err, SchemaV1)
		}
	})
	t.Run("another version is refused and nothing is written", func(t *testing.T) {
		path := filepath.Join(dir, "v2.json")
		err := WriteJournal(path, Journal{Schema: "aftershock.journal/v2"})
		if !errors.Is(err, ErrUnsupportedSchema) || !strings.Contains(err.Error(), path) {
			t.Errorf("error %v; want ErrUnsupportedSchema naming %s", err, path)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after a refused write", path)
		}
	})
	t.Run("a missing folder fails naming the file", func(t *testing.T) {
		path := filepath.Join(dir, "missing", "journal.json")
		if err := WriteJournal(path, Journal{}); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("error %v; want one naming %s", err, path)
		}
	})
}

func TestReadJournalErrors(t *testing.T) {
	valid, err := json.Marshal(Journal{Schema: SchemaV1, RunID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content string // "" with missing: the file does not exist
		missing bool
		is      error
		want    []string
	}{
		{name: "missing file", missing: true, is: fs.ErrNotExist, want: []string{"no such file"}},
		{name: "empty file", content: "", is: ErrMalformed, want: []string{"the file is empty"}},
		{name: "truncated", content: "{\n  \"Schema\": \"aftershock.journal/v1\",\n  \"RunID\": \"r", is: ErrMalformed,
			want: []string{"line 3, column 13", "unexpected end of JSON input"}},
		{name: "truncated valid journal", content: string(valid[:len(valid)-5]), is: ErrMalformed, want: []string{"line 1"}},
		{name: "not JSON", content: "schema: v1\n", is: ErrMalformed, want: []string{"line 1, column 1", "invalid character"}},
		{name: "wrong type", content: "{\"Schema\": \"aftershock.journal/v1\",\n \"Inputs\": {\"Seed\": \"one\"}}", is: ErrMalformed,
			want: []string{"Inputs.Seed", "line 2"}},
		{name: "unknown version", content: `{"Schema": "aftershock.journal/v2", "Scenarios": {"changed": true}}`, is: ErrUnsupportedSchema,
			want: []string{`"aftershock.journal/v2"`, "this version reads \"aftershock.journal/v1\""}},
		{name: "no schema", content: `{"RunID": "r"}`, is: ErrUnsupportedSchema, want: []string{`no "Schema" field`}},
		{name: "a fleet too large to lay out", is: ErrMalformed, want: []string{"more than 1000000 nodes"},
			content: `{"Schema": "aftershock.journal/v1", "Inputs": {"Topology": {"Regions": [{"Clusters": [{"Name": "c", "Workers": 2000000}]}]}}}`},
		{name: "a negative node count", is: ErrMalformed, want: []string{`cluster "c" has a negative node count`},
			content: `{"Schema": "aftershock.journal/v1", "Inputs": {"Topology": {"Regions": [{"Clusters": [{"Name": "c", "Workers": -1}]}]}}}`},
		{name: "an array, not a journal", content: `[{"scenario": "s", "events": []}]`, is: ErrMalformed, want: []string{"cannot unmarshal array"}},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".json")
			if !tt.missing {
				if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ReadJournal(path)
			if err == nil {
				t.Fatalf("case %d: no error", i)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			for _, w := range append([]string{path}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestFromTimelines(t *testing.T) {
	j := fixtureJournal()
	if j.Schema != SchemaV1 || j.RunID != "fixture-run" {
		t.Errorf("schema %q run %q", j.Schema, j.RunID)
	}
	if !j.Started.Equal(at(0)) || !j.Ended.Equal(at(51)) {
		t.Errorf("run from %s to %s, want %s to %s", j.Started, j.Ended, at(0), at(51))
	}
	type step struct{ text, status, err string }
	tests := []struct {
		scenario int
		status   string
		steps    []step
	}{
		{0, StatusFailed, []step{
			{stepFleet, "passed", ""},
			{stepRestart, "passed", ""},
			{stepReboot, "passed", ""},
			{stepAllReady, "passed", ""},
			{stepMetrics, "passed", ""},
			{stepTagIndex, "failed", failure},
		}},
		{1, StatusAborted, []step{
			{stepFleet, "passed", ""},
			{"all nodes are Ready", "aborted", ""},
		}},
	}
	for _, tt := range tests {
		sc := j.Scenarios[tt.scenario]
		t.Run(sc.Name, func(t *testing.T) {
			if sc.Status != tt.status {
				t.Errorf("status %q, want %q", sc.Status, tt.status)
			}
			var got []step
			for _, s := range sc.Steps {
				got = append(got, step{s.Text, s.Status, s.Error})
			}
			if !reflect.DeepEqual(got, tt.steps) {
				t.Errorf("steps\n got %q\nwant %q", got, tt.steps)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		name   string
		events []experiments.Event
		want   string
	}{
		{"all passed and ended", []experiments.Event{
			{Kind: experiments.KindStep, Name: "scenario: s", Status: "started"},
			{Kind: experiments.KindStep, Name: "a", Status: "started"},
			{Kind: experiments.KindStep, Name: "a", Status: "passed"},
			{Kind: experiments.KindStep, Name: "scenario: s", Status: "ended"},
		}, StatusPassed},
		{"never ended", []experiments.Event{
			{Kind: experiments.KindStep, Name: "a", Status: "started"},
			{Kind: experiments.KindStep, Name: "a", Status: "passed"},
		}, StatusAborted},
		{"an undefined step fails", []experiments.Event{
			{Kind: experiments.KindStep, Name: "a", Status: "started"},
			{Kind: experiments.KindStep, Name: "a", Status: "undefined"},
		}, StatusFailed},
		{"the same text twice pairs in order", []experiments.Event{
			{Kind: experiments.KindStep, Name: "a", Status: "started"},
			{Kind: experiments.KindStep, Name: "a", Status: "passed"},
			{Kind: experiments.KindStep, Name: "a", Status: "started"},
			{Kind: experiments.KindStep, Name: "scenario: s", Status: "ended"},
		}, StatusAborted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.events {
				tt.events[i].Time = at(float64(i))
			}
			j := FromTimelines("r", []Scenario{{Name: "s", Events: tt.events}})
			if got := j.Scenarios[0].Status; got != tt.want {
				t.Errorf("status %q, want %q (steps %+v)", got, tt.want, j.Scenarios[0].Steps)
			}
		})
	}
}

// FuzzReadJournal checks that no input makes reading, or rendering what was
// read, panic, and that what reads also renders.
func FuzzReadJournal(f *testing.F) {
	valid, err := json.Marshal(fixtureJournal())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := decodeJournal("fuzz.json", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if j.Schema != SchemaV1 {
			t.Errorf("read a journal of schema %q", j.Schema)
		}
		// Bound the work: the fuzzer may write a span of centuries.
		if len(j.Scenarios) > 50 {
			return
		}
		if _, err := RenderMarkdown(j); err != nil {
			t.Errorf("markdown: %v", err)
		}
		if _, err := RenderHTML(j); err != nil {
			t.Errorf("html: %v", err)
		}
	})
}

// TestReadJournalBadTime reads a journal whose event time is not a time:
// the error names the file.
func TestReadJournalBadTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.json")
	content := `{"Schema": "aftershock.journal/v1", "Scenarios": [{"Events": [{"time": "yesterday"}]}]}`
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadJournal(path)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v; want ErrMalformed naming %s", err, path)
	}
}
